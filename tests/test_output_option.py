"""``ferdesk --output speech|screen-reader|both|off``: where announcements go, for one run only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferdesk.ui.app import OUTPUT_CHOICES, build_parser, main


def test_the_four_outputs_map_to_the_setting_and_others_are_refused(capsys):
    parser = build_parser()
    assert {value: parser.parse_args(["--output", value]).output for value in OUTPUT_CHOICES} == {
        "speech": "speech",
        "screen-reader": "screen-reader",
        "both": "both",
        "off": "off",
    }
    assert set(OUTPUT_CHOICES.values()) == {"speech", "screen_reader", "both", "off"}
    assert parser.parse_args([]).output is None  # the saved setting decides
    assert main(["--output", "loud"]) == 2
    assert "invalid choice: 'loud'" in capsys.readouterr().err


def _ferdesk_command() -> list[str]:
    script = Path(sys.executable).with_name("ferdesk")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ferdesk"]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_screen_reader_output_without_a_screen_reader_says_so_and_is_not_saved(tmp_path):
    log = tmp_path / "speech.log"
    config = tmp_path / "config"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "XDG_"))}
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(config))
    done = subprocess.run(
        [
            *_ferdesk_command(),
            "--source",
            "demo",
            "--output",
            "screen-reader",
            "--no-speech",
            "--quit-after",
            "6",
            "--speech-log",
            str(log),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr[-1500:]
    said = [line.split("\t", 1)[1] for line in log.read_text().splitlines()]
    # No screen reader runs here (a fresh session bus-less environment): the user is told, first.
    assert any("No screen reader is running" in text for text in said), said
    saved = "".join(path.read_text() for path in config.rglob("*.conf"))
    assert "screen_reader" not in saved  # --output is for this run; the setting is unchanged
