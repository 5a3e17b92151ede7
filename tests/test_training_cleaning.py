"""The cleaner on a small data set with one planted fault of each kind, and on the real FER2013."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.cleaning import CATEGORIES, clean_dataset, files_to_drop
from training.data import DatasetError, list_fer2013_folder, load_split


def face_pixels(seed: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gradient = np.linspace(0, 200, size)[np.newaxis, :].repeat(size, axis=0)
    return np.clip(gradient + rng.integers(0, 55, (size, size)), 0, 255).astype(np.uint8)


def save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FERDESK_CACHE", str(cache))
    return cache


@pytest.fixture
def messy_kaggle(tmp_path: Path) -> Path:
    """A FER2013 Kaggle layout with one planted fault of each kind (and healthy faces around them)."""
    root = tmp_path / "data" / "fer2013"
    train, test = root / "train", root / "test"
    save(train / "happy" / "Training_01.png", face_pixels(1))
    shutil.copy(train / "happy" / "Training_01.png", train / "happy" / "Training_02.png")  # same class copy
    save(train / "happy" / "Training_03.png", np.full((48, 48), 128, np.uint8))  # blank
    save(train / "happy" / "Training_04.png", face_pixels(4, size=64))  # wrong size
    (train / "happy" / "Training_05.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")  # undecodable
    (train / "happy" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # stray
    save(train / "angry" / "Training_06.png", face_pixels(6))
    save(train / "sad" / "Training_07.bmp", face_pixels(6))  # same pixels, other format, other label
    save(train / "surprise" / "Training_08.png", face_pixels(9))  # leaks into PrivateTest
    save(train / "bored" / "Training_09.png", face_pixels(10))  # unknown class folder
    save(train / "fear" / "Training_10.png", face_pixels(11))
    save(test / "happy" / "PublicTest_20.png", face_pixels(20))
    save(test / "sad" / "PublicTest_21.png", face_pixels(9))  # leaks into PrivateTest
    save(test / "surprise" / "PrivateTest_30.png", face_pixels(9))  # the copy that stays
    save(test / "fear" / "PrivateTest_31.png", face_pixels(31))
    save(test / "happy" / "no_prefix.png", face_pixels(40))  # no reader knows its split
    return root


def names(paths: set[str] | list[str]) -> set[str]:
    return {Path(p).name for p in paths}


def test_every_planted_fault_is_found_and_counted(messy_kaggle: Path) -> None:
    report = clean_dataset(messy_kaggle)

    assert report.source == "fer2013"
    assert report.images_per_split == {"Training": 9, "PublicTest": 2, "PrivateTest": 2}
    assert report.counts() == {
        "not_an_image": 1,
        "ignored": 2,
        "undecodable": 1,
        "wrong_size": 1,
        "blank": 1,
        "duplicate_in_split": 1,
        "conflicting_duplicate": 2,
        "duplicate_across_splits": 2,
    }
    assert names(report.files("not_an_image")) == {".DS_Store"}
    assert names(report.files("ignored")) == {"Training_09.png", "no_prefix.png"}
    assert names(report.files("undecodable")) == {"Training_05.jpg"}
    assert names(report.files("wrong_size")) == {"Training_04.png"}
    assert names(report.files("blank")) == {"Training_03.png"}
    assert names(report.files("duplicate_in_split")) == {"Training_02.png"}  # Training_01 is kept
    # Identical pixels in a PNG and a BMP: duplicates are found by decoded pixels, not file bytes.
    assert names(report.files("conflicting_duplicate")) == {"Training_06.png", "Training_07.bmp"}
    assert names(report.files("duplicate_across_splits")) == {"Training_08.png", "PublicTest_21.png"}


def test_drop_sets_keep_the_benchmark_split_intact(messy_kaggle: Path) -> None:
    report = clean_dataset(messy_kaggle)

    assert names(report.files_to_drop("Training")) == {
        ".DS_Store",
        "Training_02.png",
        "Training_03.png",
        "Training_04.png",
        "Training_05.jpg",
        "Training_06.png",
        "Training_07.bmp",
        "Training_08.png",
        "Training_09.png",
    }
    assert names(report.files_to_drop("PublicTest")) == {"PublicTest_21.png"}
    assert report.files_to_drop("PrivateTest") == set()
    kept = {
        "Training_01.png",
        "Training_10.png",
        "PublicTest_20.png",
        "PrivateTest_30.png",
        "PrivateTest_31.png",
    }
    assert not kept & names(report.files_to_drop())


def test_files_to_drop_gives_the_same_strings_as_the_dataset_sources(messy_kaggle: Path) -> None:
    data_root = messy_kaggle.parent  # the parent, as ../shared/data is passed to training
    drop = files_to_drop(data_root, "Training")
    dataset = load_split(data_root, "Training", show_progress=False)

    kept = [s for s in dataset.sources if s not in drop]
    assert names(kept) == {"Training_01.png", "Training_10.png"}
    listed, _, _ = list_fer2013_folder(data_root, "Training")
    readable_drops = {p for p in drop if Path(p).suffix != "" and "bored" not in p}
    assert readable_drops <= {str(p) for p in listed}


def test_thresholds_can_turn_checks_off(messy_kaggle: Path) -> None:
    report = clean_dataset(messy_kaggle, expected_size=None, blank_std=0.0)
    assert report.counts()["wrong_size"] == 0
    assert report.counts()["blank"] == 0
    assert report.counts()["duplicate_in_split"] == 1
    with pytest.raises(ValueError, match="blank_std == -1"):
        clean_dataset(messy_kaggle, blank_std=-1)


def test_scan_is_cached_and_a_changed_file_is_scanned_again(messy_kaggle: Path, private_cache: Path) -> None:
    first = clean_dataset(messy_kaggle)
    assert len(list((private_cache / "cleaning").glob("fer2013-*.json"))) == 1
    again = clean_dataset(messy_kaggle)
    assert again.counts() == first.counts()

    save(messy_kaggle / "train" / "happy" / "Training_03.png", face_pixels(3))  # no longer blank
    changed = clean_dataset(messy_kaggle)
    assert changed.counts()["blank"] == 0
    assert len(list((private_cache / "cleaning").glob("fer2013-*.json"))) == 2


def test_json_report_lists_every_file_and_the_table_is_readable(messy_kaggle: Path, tmp_path: Path) -> None:
    report = clean_dataset(messy_kaggle)
    path = report.write_json(tmp_path / "out" / "report.json")
    stored = json.loads(path.read_text())

    assert stored["counts"] == report.counts()
    assert set(stored["issues"]) == set(CATEGORIES)
    assert names([item["path"] for item in stored["issues"]["blank"]]) == {"Training_03.png"}
    assert stored["files_to_drop"]["per_split"] == {"Training": 9, "PublicTest": 1, "PrivateTest": 0}
    assert any(len(group) == 3 for group in stored["duplicate_groups"])

    table = report.format_table(examples=1)
    blank_row = next(line for line in table.splitlines() if line.startswith("blank "))
    assert blank_row.split()[1:] == ["1", "0", "0", "0", "1"]  # Training PublicTest PrivateTest other dropped
    assert "Files to drop: 11 (Training 9, PublicTest 1, PrivateTest 0)." in table


def test_cli_prints_the_table_and_writes_the_report(
    messy_kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from training.__main__ import main

    out = tmp_path / "cleaning.json"
    assert main(["clean", "--data", str(messy_kaggle), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "duplicate_across_splits" in printed
    assert str(out) in printed
    assert json.loads(out.read_text())["counts"]["undecodable"] == 1

    assert main(["clean", "--data", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "Data folder not found" in capsys.readouterr().err


def test_any_class_folder_set_is_checked_as_one_split(tmp_path: Path) -> None:
    root = tmp_path / "pets"
    save(root / "cat" / "a.png", face_pixels(1))
    save(root / "cat" / "b.png", face_pixels(1))
    save(root / "dog" / "c.png", face_pixels(2))
    save(root / "dog" / "d.png", face_pixels(3, size=100))
    (root / "README.txt").write_text("outside every class")

    report = clean_dataset(root, expected_size=None)

    assert report.source == "folders"
    assert report.images_per_split == {"all": 4}
    assert names(report.files("duplicate_in_split")) == {"b.png"}
    assert names(report.files("not_an_image")) == {"README.txt"}
    assert report.counts()["wrong_size"] == 0


def test_ferplus_layout_checks_leaks_between_its_folders(tmp_path: Path) -> None:
    root = tmp_path / "ferplus"
    rows = {"FER2013Train": ["fer0000001.png", "fer0000002.png"], "FER2013Test": ["fer0000003.png"]}
    for folder, files in rows.items():
        lines = [f'{name},"(0, 0, 48, 48)",0,10,0,0,0,0,0,0,0,0\n' for name in files]
        (root / folder).mkdir(parents=True)
        (root / folder / "label.csv").write_text("".join(lines))
    save(root / "FER2013Train" / "fer0000001.png", face_pixels(1))
    save(root / "FER2013Train" / "fer0000002.png", face_pixels(2))
    save(root / "FER2013Train" / "fer0000099.png", face_pixels(99))  # not in label.csv
    save(root / "FER2013Test" / "fer0000003.png", face_pixels(2))

    report = clean_dataset(root)

    assert report.source == "ferplus"
    assert names(report.files("duplicate_across_splits")) == {"fer0000002.png"}
    assert names(report.files("ignored")) == {"fer0000099.png"}
    assert names(files_to_drop(tmp_path, "Training", source="ferplus")) == {
        "fer0000002.png",
        "fer0000099.png",
    }


def test_wrong_paths_and_names_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"Data folder not found at .*pass --data PATH"):
        clean_dataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="Unknown split 'Test'"):
        files_to_drop(tmp_path, "Test")
    with pytest.raises(DatasetError, match="Unknown source 'imagenet'"):
        clean_dataset(tmp_path, source="imagenet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="No class sub-folders"):
        clean_dataset(tmp_path / "empty")


@pytest.mark.parametrize("kind", ["L", "RGB", "RGBA", "P", "I;16", "exif-rotated"])
def test_fast_decoding_sees_the_same_pixels_as_the_app(tmp_path: Path, kind: str) -> None:
    """The cleaner's fast path must hash exactly what ``load_image`` (and so training) sees."""
    from ferdesk.vision.imageio import load_image
    from training.cleaning import _read_pixels

    rgb = np.stack([face_pixels(1), face_pixels(2), face_pixels(3)], axis=2)[:, :40]  # not square
    if kind == "exif-rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to view"
        path = tmp_path / "rotated.jpg"
        Image.fromarray(rgb).save(path, exif=exif)
    elif kind == "I;16":
        path = tmp_path / "deep.png"
        Image.fromarray(face_pixels(4).astype(np.uint16) * 257).save(path)
    else:
        image = Image.fromarray(rgb)
        image = image.convert(kind) if kind != "RGB" else image
        path = save(tmp_path / f"{kind}.png", np.asarray(image)) if kind != "P" else tmp_path / "P.png"
        if kind == "P":
            image.save(path)

    fast_rgb, fast_gray = _read_pixels(str(path))

    np.testing.assert_array_equal(fast_rgb, load_image(path))
    assert fast_gray.shape == fast_rgb.shape[:2]
    if kind == "exif-rotated":
        assert fast_rgb.shape[:2] == (40, 48)  # turned upright, as the app turns it


@pytest.mark.data
@pytest.mark.slow
def test_real_fer2013_blank_and_duplicate_images_are_found(shared_data: Path) -> None:
    report = clean_dataset(shared_data, use_cache=False)

    assert report.source == "fer2013"
    assert report.images_per_split == {"Training": 28549, "PublicTest": 3589, "PrivateTest": 3589}
    blank_training = [i for i in report.issues if i.category == "blank" and i.split == "Training"]
    assert len(blank_training) == 11  # the 11 blank Training images of the original (README)
    counts = report.counts()
    assert counts["undecodable"] == 0 and counts["wrong_size"] == 0 and counts["not_an_image"] == 0
    assert counts["duplicate_in_split"] > 0
    assert counts["duplicate_across_splits"] > 0
    # The benchmark split is never trimmed to favour it: no PrivateTest file is dropped as a leak.
    assert not any(
        i.category == "duplicate_across_splits" and i.split == "PrivateTest" for i in report.issues
    )
    training_listing = {str(p) for p in list_fer2013_folder(shared_data, "Training")[0]}
    assert report.files_to_drop("Training") <= training_listing
