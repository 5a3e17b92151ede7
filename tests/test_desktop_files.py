"""Desktop integration: the menu entry, the icon and the AppStream metadata are valid and install.

Validated with the freedesktop tools themselves (``desktop-file-validate`` from desktop-file-utils,
``appstreamcli`` from appstream; scripts/system-packages.sh installs both). ``install-desktop.sh``
runs against a temporary XDG_DATA_HOME, and GLib's own application list (what GNOME's and many
other menus read, through system python3-gi) must then offer ferdesk with its icon.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
DESKTOP = PACKAGING / "ferdesk.desktop"
METAINFO = PACKAGING / "io.github.ferdesk.ferdesk.metainfo.xml"
SVG = REPO / "assets" / "icons" / "ferdesk.svg"


def _load_make_icons():
    spec = importlib.util.spec_from_file_location("make_icons", PACKAGING / "make_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_icons = _load_make_icons()
ICON_SIZES, render_icons = make_icons.ICON_SIZES, make_icons.render_icons

GLIB_MENU = """
import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio
for app in Gio.AppInfo.get_all():
    if app.should_show():
        print(app.get_id(), app.get_executable(), app.get_icon().to_string(), sep="\\t")
"""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run scripts/system-packages.sh")
    return path


def test_desktop_entry_is_valid():
    done = subprocess.run([_tool("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    entry = dict(
        line.split("=", 1) for line in DESKTOP.read_text(encoding="utf-8").splitlines() if "=" in line
    )
    assert entry["Icon"] == "ferdesk" and entry["Exec"].split()[0] == "ferdesk"
    assert "Accessibility" in entry["Categories"].split(";")


def test_metainfo_is_valid_and_says_what_matters():
    done = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", "--pedantic", str(METAINFO)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warnings" not in done.stdout and "errors" not in done.stdout, done.stdout
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == METAINFO.name.removesuffix(".metainfo.xml")
    assert root.findtext("launchable") == DESKTOP.name
    assert "keyboard" in [c.text for c in root.iterfind("supports/control")]
    assert root.find("content_rating").get("type").startswith("oars-")
    image_url = root.find("screenshots/screenshot/image").text
    assert image_url.startswith("https://")
    # The URL names a file of this repository (made by packaging/make_screenshot.py): it must exist.
    shot = REPO / image_url.split("/main/", 1)[1]
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.width >= 624 and image.height >= 351  # AppStream's minimum
    description = " ".join(root.find("description").itertext())
    assert "screen reader" in description and "keyboard shortcut" in description


def test_icons_render_from_the_svg_at_every_size(tmp_path):
    paths = render_icons(SVG, tmp_path, flat=True)
    assert len(paths) == len(ICON_SIZES)
    for size, path in zip(ICON_SIZES, paths, strict=True):
        with Image.open(path) as image:
            assert image.size == (size, size) and image.mode == "RGBA"
            alpha = image.getchannel("A")
            assert alpha.getpixel((0, 0)) == 0, "the corners are transparent (rounded square)"
            assert alpha.getpixel((size // 2, size // 2)) == 255
            colours = len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))
        assert colours > 3, f"{path.name} is not a drawing"


def test_a_broken_svg_is_one_clear_error(tmp_path):
    broken = tmp_path / "broken.svg"
    broken.write_text("<svg", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(PACKAGING / "make_icons.py"), str(tmp_path / "out"), "--svg", str(broken)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not a readable SVG" in done.stderr


def test_install_desktop_puts_ferdesk_in_the_menu_and_uninstall_removes_it(tmp_path):
    data_home = tmp_path / "share"
    program = Path(sys.executable).parent / "ferdesk"
    assert program.is_file(), f"{program}: the test venv has no ferdesk command"
    env = dict(os.environ, XDG_DATA_HOME=str(data_home), PYTHON=sys.executable)
    script = str(PACKAGING / "install-desktop.sh")
    done = subprocess.run(["bash", script, "--exec", str(program)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    desktop = data_home / "applications" / "ferdesk.desktop"
    assert subprocess.run([_tool("desktop-file-validate"), str(desktop)]).returncode == 0
    assert f"Exec={program}" in desktop.read_text(encoding="utf-8").splitlines()
    assert (data_home / "metainfo" / METAINFO.name).read_bytes() == METAINFO.read_bytes()
    assert (data_home / "icons/hicolor/scalable/apps/ferdesk.svg").read_bytes() == SVG.read_bytes()
    for size in ICON_SIZES:
        with Image.open(data_home / f"icons/hicolor/{size}x{size}/apps/ferdesk.png") as image:
            assert image.size == (size, size)

    menu_env = dict(env, XDG_DATA_DIRS=str(tmp_path / "no-system-apps"))
    listed = subprocess.run(
        ["/usr/bin/python3", "-c", GLIB_MENU], env=menu_env, capture_output=True, text=True
    )
    assert listed.returncode == 0, f"system python3-gi is needed for this check: {listed.stderr}"
    assert f"ferdesk.desktop\t{program}\tferdesk" in listed.stdout.splitlines(), listed.stdout

    # What the menu would start answers (the program is real and runs).
    version = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("ferdesk ")

    removed = subprocess.run(["bash", script, "--uninstall"], env=env, capture_output=True, text=True)
    assert removed.returncode == 0, removed.stderr
    assert not desktop.exists() and not list(data_home.rglob("ferdesk.png"))
    listed = subprocess.run(
        ["/usr/bin/python3", "-c", GLIB_MENU], env=menu_env, capture_output=True, text=True
    )
    assert "ferdesk.desktop" not in listed.stdout


def test_install_desktop_without_a_program_says_how_to_get_one(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "share"))
    done = subprocess.run(
        ["bash", str(PACKAGING / "install-desktop.sh"), "--exec", str(tmp_path / "nowhere")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "no ferdesk program found" in done.stderr and "--exec PATH" in done.stderr
    assert not (tmp_path / "share").exists()
