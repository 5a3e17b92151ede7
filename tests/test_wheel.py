"""The wheel and sdist carry the models and the demo, and an installed ferdesk works from any folder.

Built offline (``python -m build --no-isolation``, with the test extra's setuptools and build) from
a copy of the checkout's files, then installed with ``--no-deps`` into a fresh venv outside the
checkout. The venv reuses the test venv's already-installed dependencies through a ``.pth`` line
(only a path: the ``.pth`` files inside it, among them the editable install's finder, are not run),
so the checkout's own ``ferdesk`` is not importable there — asserted, not assumed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

#: What an installed ferdesk must carry: shipped models with sidecar, licence and card; the demo.
PACKAGE_DATA = (
    "ferdesk/models/ferdesk_emotion.tflite",
    "ferdesk/models/ferdesk_emotion.json",
    "ferdesk/models/blazeface_short_range.tflite",
    "ferdesk/models/blazeface_full_range_sparse.tflite",
    "ferdesk/models/LICENSE-mediapipe-Apache-2.0.txt",
    "ferdesk/models/MODEL_CARD.md",
    "ferdesk/assets/demo.mp4",
    "ferdesk/assets/README.md",
    "ferdesk/assets/icons/ferdesk.svg",
)
IGNORED = shutil.ignore_patterns(
    ".venv",
    ".git",
    "build",
    "dist",
    "out",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "runs",
)


def _source_copy(destination: Path) -> Path:
    """The checkout's files without its venv, caches and build output (so the build never writes here)."""
    shutil.copytree(REPO, destination, ignore=IGNORED)
    return destination


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("build")
    source = _source_copy(work / "src")
    out = work / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("ferdesk-*.whl")
    (sdist,) = out.glob("ferdesk-*.tar.gz")
    return wheel, sdist


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FERDESK_MODELS", "VIRTUAL_ENV")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    return env


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory) -> dict[str, Path]:
    wheel, _ = dists
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    # The already-installed dependencies (numpy, PySide6, LiteRT, TensorFlow, ...), appended after
    # the new venv's own site-packages: its ferdesk wins, and the checkout's is never on the path.
    deps = sysconfig.get_paths()["purelib"]
    (site / "ferdesk_test_dependencies.pth").write_text(deps + "\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    elsewhere = root / "elsewhere"  # neither the checkout nor the venv: a user's folder
    elsewhere.mkdir()
    return {"venv": venv, "python": python, "site": site, "cwd": elsewhere, "home": root / "home"}


def _run(installed: dict[str, Path], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args),
        cwd=installed["cwd"],
        env=_clean_env(installed["home"]),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_wheel_and_the_sdist_carry_the_models_and_the_demo(dists):
    wheel, sdist = dists
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    for name in PACKAGE_DATA:
        assert name in names, f"{name} missing from {wheel.name}"
    assert (
        sizes["ferdesk/models/ferdesk_emotion.tflite"]
        == (REPO / "models/ferdesk_emotion.tflite").stat().st_size
    )
    # Every module of the two packages ships, subpackages without __init__.py too.
    sources = {
        p.relative_to(REPO).as_posix() for top in ("ferdesk", "training") for p in (REPO / top).rglob("*.py")
    }
    assert sources - names == set(), "modules missing from the wheel"
    assert not any(name.startswith(("tests/", "benchmarks/", "models/", "assets/")) for name in names)
    with tarfile.open(sdist) as archive:
        members = {Path(*Path(name).parts[1:]).as_posix() for name in archive.getnames()}
    for name in (
        "models/ferdesk_emotion.tflite",
        "models/ferdesk_emotion.json",
        "assets/demo.mp4",
        "setup.py",
    ):
        assert name in members, f"{name} missing from {sdist.name}"


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    done = _run(
        installed,
        str(installed["python"]),
        "-c",
        "import ferdesk, training; from ferdesk.vision import paths; print(ferdesk.__file__); "
        "print(training.__file__); print(paths.models_dir()); print(paths.assets_dir())",
    )
    assert done.returncode == 0, done.stderr
    ferdesk_file, training_file, models, assets = (Path(line) for line in done.stdout.splitlines())
    for path in (ferdesk_file, training_file, models, assets):
        assert path.is_relative_to(installed["site"]), f"{path} is not inside the new venv"
        assert not path.is_relative_to(REPO)
    assert models == installed["site"] / "ferdesk" / "models"
    assert (assets / "demo.mp4").is_file()


def test_version_names_the_model(installed):
    done = _run(installed, str(installed["venv"] / "bin" / "ferdesk"), "--version")
    assert done.returncode == 0, done.stderr
    from ferdesk import __version__
    from ferdesk.vision.classifier import read_sidecar

    expected_name = read_sidecar(REPO / "models" / "ferdesk_emotion.tflite").name
    assert done.stdout.startswith(f"ferdesk {__version__} (emotion model {expected_name}, ")
    assert str(installed["site"]) in done.stdout


def test_installed_predict_finds_the_smiling_astronaut(installed, astronaut_rgb):
    photo = installed["cwd"] / "astronaut.jpg"
    Image.fromarray(astronaut_rgb).save(photo)
    done = _run(
        installed,
        str(installed["venv"] / "bin" / "ferdesk"),
        "predict",
        "--json",
        "--no-progress",
        photo.name,
    )
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["error"] is None
    (face,) = record["faces"]
    assert face["emotion"] == "happy"
    x, y, width, height = face["box"]
    assert 150 < x + width / 2 < 300 and 50 < y + height / 2 < 250, face["box"]  # her face, not the flag


def test_installed_training_cli_answers_help(installed):
    done = _run(installed, str(installed["python"]), "-m", "training", "--help")
    assert done.returncode == 0, done.stderr
    assert "export" in done.stdout and "train" in done.stdout


def test_installed_app_plays_the_demo_headless(installed):
    screenshot, speech = installed["cwd"] / "window.png", installed["cwd"] / "speech.log"
    done = _run(
        installed,
        str(installed["venv"] / "bin" / "ferdesk"),
        "--source", "demo", "--quit-after", "4", "--no-speech",
        "--screenshot", str(screenshot), "--speech-log", str(speech),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert speech.read_text(encoding="utf-8").strip(), "nothing was announced"
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10, "the screenshot is blank"


# ferdesk.vision.paths: the order in which the shipped folders are looked for -----------------


def test_paths_resolve_in_order(monkeypatch, tmp_path):
    from ferdesk.vision import paths

    monkeypatch.delenv(paths.MODELS_ENV, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    # A checkout (this one, editable): the top-level folders.
    assert paths.models_dir() == REPO / "models" and paths.assets_dir() == REPO / "assets"
    assert paths.default_emotion_model().is_file() and paths.icon_path().is_file()

    # A PyInstaller bundle of the older layout: sys._MEIPASS/models.
    bundle = tmp_path / "bundle"
    (bundle / "models").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert paths.models_dir() == bundle / "models"
    assert paths.assets_dir() == REPO / "assets"  # the bundle has none: the next place

    # Package data (wheel, current bundle) wins over both.
    package = tmp_path / "site-packages" / "ferdesk"
    (package / "models").mkdir(parents=True)
    monkeypatch.setattr(paths.resources, "files", lambda name: package)
    assert paths.models_dir() == package / "models"

    # $FERDESK_MODELS wins over everything, for the models only.
    monkeypatch.setenv(paths.MODELS_ENV, str(tmp_path / "mine"))
    assert paths.models_dir() == tmp_path / "mine"
    assert paths.default_emotion_model() == tmp_path / "mine" / "ferdesk_emotion.tflite"
