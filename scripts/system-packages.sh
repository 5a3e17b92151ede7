#!/usr/bin/env bash
# Debian/Ubuntu packages ferdesk needs at run time and in tests. Installs only what is missing.
#   espeak-ng      the speech engine pyttsx3 drives on Linux
#   alsa-utils     `aplay`, which plays the speech
#   libgl1 libglib2.0-0  needed by OpenCV (opencv-contrib-python, pulled in by mediapipe)
#   libxcb-* libxkbcommon-x11-0 libegl1 libfontconfig1 libdbus-1-3  Qt's xcb platform plugin (a real desktop)
#   xvfb           a virtual X display for tests of the real xcb platform
#   strace         tests/test_no_network.py: proves the app opens no internet socket
#   orca speech-dispatcher at-spi2-core dbus openbox xdotool  tests/test_orca.py: the real Orca
#                  screen reader (speaking through speech-dispatcher's dummy module) against the app
#                  under Xvfb, with D-Bus, AT-SPI, a window manager and key presses
#   desktop-file-utils appstream python3-gi  tests/test_desktop_files.py: desktop-file-validate,
#                  appstreamcli validate, and GLib's application list (what menus read)
#   binutils       objdump, which PyInstaller uses to analyse libraries (packaging/build.sh)
set -euo pipefail
packages=(espeak-ng alsa-utils libgl1 libglib2.0-0 libegl1 libfontconfig1 libdbus-1-3 libxkbcommon0
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
  libxcb-xinerama0 libxcb-xkb1 libxcb-shape0 libxcb-randr0 xvfb strace
  orca speech-dispatcher at-spi2-core dbus openbox xdotool
  desktop-file-utils appstream python3-gi binutils)
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "ferdesk: not a Debian/Ubuntu system; install the equivalents of: ${packages[*]}" >&2
  exit 0
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "ferdesk: installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
