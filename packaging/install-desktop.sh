#!/usr/bin/env bash
# Put ferdesk in the current user's application menu (no root needed):
#   bash packaging/install-desktop.sh [--exec PATH] [--uninstall]
# Installs into ${XDG_DATA_HOME:-~/.local/share}: applications/ferdesk.desktop (Exec= the ferdesk
# program, found as below), icons/hicolor/{scalable,16x16..512x512}/apps/ferdesk.{svg,png} (PNGs
# rendered from assets/icons/ferdesk.svg by make_icons.py) and metainfo/io.github.ferdesk.ferdesk.metainfo.xml.
# The program: --exec PATH, else `ferdesk` on PATH, else this checkout's .venv, else dist/ferdesk/ferdesk.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data_home/applications"
icons="$data_home/icons/hicolor"
metainfo="$data_home/metainfo"
component="io.github.ferdesk.ferdesk"

program=""
uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --exec) program="${2:?--exec needs the path of the ferdesk program}"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-desktop.sh: unknown argument '$1' (expected --exec PATH or --uninstall)" >&2; exit 2 ;;
  esac
done

refresh_caches() {
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$apps" || true; fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -f -t "$icons" 2>/dev/null || true; fi
}

if [ "$uninstall" -eq 1 ]; then
  rm -f "$apps/ferdesk.desktop" "$metainfo/$component.metainfo.xml" "$icons/scalable/apps/ferdesk.svg"
  rm -f "$icons"/*/apps/ferdesk.png
  refresh_caches
  echo "Removed ferdesk's menu entry, icons and metainfo from $data_home"
  exit 0
fi

if [ -z "$program" ]; then
  for candidate in "$(command -v ferdesk || true)" "$repo/.venv/bin/ferdesk" "$repo/dist/ferdesk/ferdesk"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then program="$candidate"; break; fi
  done
fi
if [ -z "$program" ] || [ ! -x "$program" ]; then
  echo "install-desktop.sh: no ferdesk program found${program:+ at '$program'}. Install ferdesk (pip install ferdesk-*.whl)," \
    "build the bundle (bash packaging/build.sh), or pass --exec PATH." >&2
  exit 2
fi
program="$(cd "$(dirname "$program")" && pwd)/$(basename "$program")"
case "$program" in
  *[[:space:]\"\'\\\`\$]*) echo "install-desktop.sh: '$program' has a space or quote in its path; pass --exec with a path without them." >&2; exit 2 ;;
esac

mkdir -p "$apps" "$icons/scalable/apps" "$metainfo"
sed -e "s|^Exec=.*|Exec=$program|" -e "s|^TryExec=.*|TryExec=$program|" "$here/ferdesk.desktop" > "$apps/ferdesk.desktop"
cp "$here/$component.metainfo.xml" "$metainfo/"
cp "$repo/assets/icons/ferdesk.svg" "$icons/scalable/apps/ferdesk.svg"

# PNG sizes for desktops that do not scale SVG icons: rendered by Qt, so a Python with PySide6.
python=""
for candidate in "${PYTHON:-}" "$repo/.venv/bin/python" python3; do
  if [ -n "$candidate" ] && "$candidate" -c "import PySide6.QtSvg" >/dev/null 2>&1; then python="$candidate"; break; fi
done
if [ -n "$python" ]; then
  "$python" "$here/make_icons.py" "$data_home/icons" >/dev/null
else
  echo "install-desktop.sh: no Python with PySide6 found, so only the SVG icon was installed (most desktops scale it)." >&2
fi
refresh_caches
echo "Installed ferdesk in the menu: $apps/ferdesk.desktop (runs $program)"
