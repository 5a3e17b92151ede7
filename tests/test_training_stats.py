"""Class counts per split, from file names and label files alone, as a table, a bar chart and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ferdesk.vision.emotions import EMOTIONS
from training.data import DatasetError
from training.stats import count_classes, ferplus_majority, plot_class_counts, write_stats

#: (folder, prefix) -> {class: count} of the tiny Kaggle layout below.
LAYOUT = {
    ("train", "Training"): {"angry": 3, "happy": 5, "sad": 2},
    ("test", "PublicTest"): {"angry": 1, "happy": 2},
    ("test", "PrivateTest"): {"happy": 1, "sad": 1, "surprise": 1},
}


@pytest.fixture
def tiny_kaggle(tmp_path: Path) -> Path:
    root = tmp_path / "fer2013"
    number = 0
    for (folder, prefix), classes in LAYOUT.items():
        for name, count in classes.items():
            for _ in range(count):
                number += 1
                path = root / folder / name / f"{prefix}_{number}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"never decoded")  # counting must not open the images
    (root / "train" / "happy" / ".DS_Store").write_bytes(b"\x00")
    return root


def test_fer2013_counts_per_split_and_class_without_decoding(tiny_kaggle: Path) -> None:
    stats = count_classes(tiny_kaggle.parent, "fer2013")

    assert stats.class_names == EMOTIONS
    assert list(stats.counts) == ["Training", "PublicTest", "PrivateTest"]
    for (_, split), classes in LAYOUT.items():
        expected = {name: classes.get(name, 0) for name in EMOTIONS}
        assert stats.counts[split] == expected
    assert stats.total("Training") == 10
    assert stats.imbalance("Training") == pytest.approx(2.5)
    assert stats.excluded["Training"] == {"not an image file": 1}


def test_table_shows_counts_shares_totals_and_what_was_left_out(tiny_kaggle: Path) -> None:
    table = count_classes(tiny_kaggle, "fer2013").format_table()
    happy = next(line for line in table.splitlines() if line.startswith("happy"))
    assert happy.split() == ["happy", "5", "50.0%", "2", "66.7%", "1", "33.3%"]
    total = next(line for line in table.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "10", "3", "3"]
    assert "Training: left out 1 not an image file" in table


def test_bar_chart_png_and_json_are_written(tiny_kaggle: Path, tmp_path: Path) -> None:
    stats = count_classes(tiny_kaggle, "fer2013")
    png, json_path = write_stats(stats, tmp_path / "reports")

    assert png == tmp_path / "reports" / "fer2013_class_counts.png"
    with Image.open(png) as chart:
        assert chart.format == "PNG" and chart.width >= 600 and chart.height >= 300
        assert len(chart.getcolors(maxcolors=1 << 16) or range(1000)) > 10  # bars, not a blank canvas
    stored = json.loads(json_path.read_text())
    assert stored["counts"]["PublicTest"]["happy"] == 2
    assert stored["totals"] == {"Training": 10, "PublicTest": 3, "PrivateTest": 3}
    again = plot_class_counts(stats, tmp_path / "deeper" / "chart.png")
    assert again.is_file() and not list(again.parent.glob("*.tmp*"))


def test_ferplus_counts_follow_the_majority_vote_and_report_what_is_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "ferplus" / "FER2013Valid"
    folder.mkdir(parents=True)
    rows = {
        "fer0000001.png": "0,10,0,0,0,0,0,0,0,0",  # happy
        "fer0000002.png": "0,8,0,0,0,0,0,0,2,0",  # happy
        "fer0000003.png": "1,0,0,0,0,0,0,9,0,0",  # contempt
        "fer0000004.png": "2,0,0,0,0,0,0,0,8,0",  # unknown
        "fer0000005.png": "0,0,0,0,0,0,0,0,1,9",  # not a face
        "fer0000006.png": "0,0,0,7,3,0,0,0,0,0",  # sad, but the image is missing
    }
    lines = [f'{name},"(0, 0, 48, 48)",{votes}\n' for name, votes in rows.items()]
    (folder / "label.csv").write_text("".join(lines) + "fer0000007.png,box,x\n")
    for name in [*list(rows)[:5], "fer0000007.png"]:
        (folder / name).write_bytes(b"never decoded")

    stats = count_classes(tmp_path, "ferplus")

    assert list(stats.counts) == ["PublicTest"]
    assert stats.class_names[-1] == "contempt"
    assert stats.counts["PublicTest"]["happy"] == 2
    assert stats.counts["PublicTest"]["contempt"] == 1
    assert stats.total("PublicTest") == 3
    assert stats.excluded["PublicTest"] == {
        "majority unknown": 1,
        "majority NF": 1,
        "missing images": 1,
        "broken rows": 1,
    }
    assert any("FER2013Train" in note for note in stats.notes)  # the missing folders are named


def test_ferplus_majority_matches_the_reader() -> None:
    assert ferplus_majority(["a.png", "box", "6", "3", "0", "0", "0", "0", "0", "0", "1", "0"]) == "neutral"
    assert ferplus_majority(["a.png", "box", "0", "0", "0", "0", "4", "0", "0", "6", "0", "0"]) == "contempt"
    assert ferplus_majority(["a.png", "box", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"]) is None
    assert ferplus_majority(["a.png", "box", "1", "2"]) is None


def test_class_folder_set_counts_images_only(tmp_path: Path) -> None:
    for name, count in {"cat": 2, "dog": 3}.items():
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i}.png").write_bytes(b"x")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")

    stats = count_classes(tmp_path, "folders")

    assert stats.counts == {"all": {"cat": 2, "dog": 3}}


def test_wrong_path_or_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"Data folder not found at .*pass --data PATH"):
        count_classes(tmp_path / "missing", "fer2013")
    with pytest.raises(DatasetError, match="Unknown source 'affectnet'"):
        count_classes(tmp_path, "affectnet")
    with pytest.raises(DatasetError, match="No FER2013 split could be counted"):
        count_classes(tmp_path, "fer2013")


def test_cli_prints_the_table_and_names_the_files(
    tiny_kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from training.__main__ import main

    out = tmp_path / "stats"
    assert main(["stats", "--data", str(tiny_kaggle), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "imbalance" in printed
    assert str(out / "fer2013_class_counts.png") in printed
    assert (out / "fer2013_class_counts.png").is_file()


@pytest.mark.data
def test_real_fer2013_counts_match_the_data_readme(shared_data: Path) -> None:
    stats = count_classes(shared_data, "fer2013")
    readme = {  # ../shared/data/README.md: train / PublicTest / PrivateTest
        "angry": (3971, 467, 491),
        "disgust": (431, 56, 55),
        "fear": (4076, 496, 528),
        "happy": (7185, 895, 879),
        "neutral": (4931, 607, 626),
        "sad": (4796, 653, 594),
        "surprise": (3159, 415, 416),
    }
    splits = ("Training", "PublicTest", "PrivateTest")
    for name, expected in readme.items():
        assert tuple(stats.counts[split][name] for split in splits) == expected
    assert [stats.total(split) for split in splits] == [28549, 3589, 3589]
