"""The training readers on small data sets written here: every layout, every broken row, every message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferdesk.vision.emotions import EMOTIONS, FERPLUS_EMOTIONS
from ferdesk.vision.imageio import load_image
from ferdesk.vision.preprocess import preprocess_face
from training.data import (
    DatasetError,
    load_split,
    read_class_folders,
    read_fer2013_csv,
    read_fer2013_folder,
    read_ferplus,
)


def face_pixels(seed: int, size: int = 48) -> np.ndarray:
    """A distinct, non-blank 'face' per seed (a gradient plus noise), uint8."""
    rng = np.random.default_rng(seed)
    gradient = np.linspace(0, 200, size, dtype=np.float64)[np.newaxis, :].repeat(size, axis=0)
    return np.clip(gradient + rng.integers(0, 55, (size, size)), 0, 255).astype(np.uint8)


def write_face(path: Path, seed: int, size: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(face_pixels(seed, size)).save(path)
    return path


# ------------------------------------------------------------------------------------------ fer2013.csv


def csv_row(emotion: object, pixels: str, usage: str) -> str:
    return f"{emotion},{pixels},{usage}\n"


@pytest.fixture
def fer2013_csv(tmp_path: Path) -> Path:
    good = " ".join(str(v) for v in face_pixels(1).ravel())
    other = " ".join(str(v) for v in face_pixels(2).ravel())
    lines = [
        "emotion,pixels,Usage\n",
        csv_row(3, good, "Training"),  # line 2: happy
        csv_row(0, other, "Training"),  # line 3: angry
        csv_row(6, good, "PublicTest"),  # line 4: neutral
        csv_row(5, other, "PrivateTest"),  # line 5: surprise
        csv_row(2, " ".join(["7"] * 100), "Training"),  # line 6: 100 pixels
        csv_row(7, good, "Training"),  # line 7: emotion code 7
        csv_row("happy", good, "Training"),  # line 8: non-numeric emotion
        csv_row(1, "12 abc " + " ".join(["5"] * 2302), "Training"),  # line 9: non-numeric pixel
        csv_row(4, " ".join(["300"] * 2304), "Training"),  # line 10: values over 255
    ]
    path = tmp_path / "fer2013.csv"
    path.write_text("".join(lines))
    return path


def test_fer2013_csv_reads_good_rows_and_reports_every_broken_one(fer2013_csv: Path) -> None:
    dataset = read_fer2013_csv(fer2013_csv)

    assert len(dataset) == 4
    assert dataset.images.shape == (4, 48, 48, 1)
    assert dataset.images.dtype == np.float32
    assert [EMOTIONS[i] for i in dataset.labels] == ["happy", "angry", "neutral", "surprise"]
    np.testing.assert_allclose(dataset.images[0, :, :, 0], face_pixels(1) / 255.0, atol=1e-6)
    skipped = {s.source.rsplit(":", 1)[1]: s.reason for s in dataset.skipped}
    assert set(skipped) == {"6", "7", "8", "9", "10"}
    assert "100 pixels, expected 2304" in skipped["6"]
    assert "emotion 7 outside 0-6" in skipped["7"]
    assert skipped["8"].startswith("broken row")
    assert skipped["9"].startswith("broken row")
    assert "outside 0-255" in skipped["10"]


def test_fer2013_csv_split_filter_uses_the_usage_column(fer2013_csv: Path) -> None:
    public = read_fer2013_csv(fer2013_csv, split="PublicTest")
    private = read_fer2013_csv(fer2013_csv, split="PrivateTest")
    assert [EMOTIONS[i] for i in public.labels] == ["neutral"]
    assert [EMOTIONS[i] for i in private.labels] == ["surprise"]
    assert public.skipped == []  # broken Training rows are not this split's business


def test_fer2013_csv_with_a_wrong_header_says_what_it_expected(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text("label,image\n3,1 2 3\n")
    with pytest.raises(DatasetError, match=r"expected the header 'emotion,pixels,Usage'"):
        read_fer2013_csv(path)


def test_fer2013_csv_with_no_usable_rows_is_an_error_not_an_empty_set(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n9,1 2 3,Training\n")
    with pytest.raises(DatasetError, match="no usable rows"):
        read_fer2013_csv(path)


# --------------------------------------------------------------------------------- Kaggle folder layout


@pytest.fixture
def kaggle_layout(tmp_path: Path) -> Path:
    root = tmp_path / "fer2013"
    write_face(root / "train" / "happy" / "Training_100.jpg", 1)
    write_face(root / "train" / "happy" / "Training_101.jpg", 2)
    write_face(root / "train" / "sad" / "Training_102.jpg", 3)
    write_face(root / "test" / "happy" / "PublicTest_200.jpg", 4)
    write_face(root / "test" / "sad" / "PublicTest_201.jpg", 5)
    write_face(root / "test" / "angry" / "PrivateTest_300.jpg", 6)
    (root / "train" / "happy" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    write_face(root / "train" / "bored" / "Training_103.jpg", 7)
    return root


def test_kaggle_layout_splits_come_from_the_file_name_prefix(kaggle_layout: Path) -> None:
    training = read_fer2013_folder(kaggle_layout, "Training")
    public = read_fer2013_folder(kaggle_layout, "PublicTest")
    private = read_fer2013_folder(kaggle_layout, "PrivateTest")

    assert [Path(s).name for s in training.sources] == [
        "Training_100.jpg",
        "Training_101.jpg",
        "Training_102.jpg",
    ]
    assert [EMOTIONS[i] for i in training.labels] == ["happy", "happy", "sad"]
    assert [Path(s).name for s in public.sources] == ["PublicTest_200.jpg", "PublicTest_201.jpg"]
    assert [Path(s).name for s in private.sources] == ["PrivateTest_300.jpg"]
    assert training.class_counts()["happy"] == 2
    # The same array the app computes for the same file: one preprocessing path.
    expected = preprocess_face(load_image(training.sources[0]))
    np.testing.assert_array_equal(training.images[0], expected)


def test_kaggle_layout_reports_stray_files_and_unknown_class_folders(kaggle_layout: Path) -> None:
    training = read_fer2013_folder(kaggle_layout, "Training")
    reasons = {Path(s.source).name: s.reason for s in training.skipped}
    assert reasons[".DS_Store"] == "not an image file"
    assert "not one of the classes" in reasons["bored"]


def test_kaggle_layout_found_from_the_parent_data_folder(kaggle_layout: Path) -> None:
    # ../shared/data holds fer2013/ and ferplus/: passing the parent must work too.
    dataset = read_fer2013_folder(kaggle_layout.parent, "PublicTest")
    assert len(dataset) == 2


def test_unknown_split_and_missing_folder_say_what_to_do(tmp_path: Path, kaggle_layout: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"Unknown split 'Validation'; expected one of Training, PublicTest"
    ):
        read_fer2013_folder(kaggle_layout, "Validation")
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DatasetError, match="pass --data PATH") as caught:
        read_fer2013_folder(missing, "Training")
    assert str(missing / "train") in str(caught.value)


def test_load_split_caches_outside_the_data_and_returns_the_same_arrays(
    kaggle_layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERDESK_CACHE", str(tmp_path / "cache"))
    first = load_split(kaggle_layout, "Training", show_progress=False)
    cached = list((tmp_path / "cache" / "datasets").glob("fer2013-Training-*.npz"))
    assert len(cached) == 1
    second = load_split(kaggle_layout, "Training", show_progress=False)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.sources == second.sources
    with pytest.raises(DatasetError, match="Unknown data source 'affectnet'"):
        load_split(kaggle_layout, "Training", source="affectnet")


# ----------------------------------------------------------------------------------------------- FER+

#: label.csv columns after name and box: neutral happiness surprise sadness anger disgust fear contempt
#: unknown NF.
FERPLUS_ROWS = [
    ("fer0000000.png", [6, 3, 0, 0, 0, 0, 0, 0, 1, 0]),  # neutral, soft 2/3 neutral 1/3 happy
    ("fer0000001.png", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]),  # happy
    ("fer0000002.png", [4, 0, 0, 0, 0, 0, 0, 0, 6, 0]),  # majority unknown: dropped
    ("fer0000003.png", [0, 0, 0, 0, 0, 0, 0, 0, 3, 7]),  # majority not-a-face: dropped
    ("fer0000004.png", [0, 0, 0, 0, 4, 0, 0, 6, 0, 0]),  # contempt: dropped for 7 classes
    ("fer0000005.png", [0, 0, 2, 1, 0, 0, 7, 0, 0, 0]),  # fear
]


@pytest.fixture
def ferplus_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    folder = root / "ferplus" / "FER2013Train"
    lines = []
    for i, (name, votes) in enumerate(FERPLUS_ROWS):
        write_face(folder / name, 100 + i)
        lines.append(f'{name},"(0, 0, 48, 48)",{",".join(str(v) for v in votes)}\n')
    lines.append('fer0000009.png,"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0\n')  # listed, no image
    lines.append('fer0000010.png,"(0, 0, 48, 48)",1,2,x\n')  # broken row
    write_face(folder / "fer0000010.png", 110)
    (folder / "label.csv").write_text("".join(lines))  # no header, as FER+ ships it
    return root


def test_ferplus_majority_labels_and_vote_distributions(ferplus_root: Path) -> None:
    dataset = read_ferplus(ferplus_root, "Training")

    assert [Path(s).name for s in dataset.sources] == ["fer0000000.png", "fer0000001.png", "fer0000005.png"]
    assert [EMOTIONS[i] for i in dataset.labels] == ["neutral", "happy", "fear"]
    assert dataset.soft_labels is not None
    assert dataset.soft_labels.shape == (3, len(EMOTIONS))
    np.testing.assert_allclose(dataset.soft_labels.sum(axis=1), 1.0, rtol=1e-6)
    first = dict(zip(EMOTIONS, dataset.soft_labels[0], strict=True))
    assert first["neutral"] == pytest.approx(2 / 3) and first["happy"] == pytest.approx(1 / 3)
    fear = dict(zip(EMOTIONS, dataset.soft_labels[2], strict=True))
    assert fear["fear"] == pytest.approx(0.7) and fear["surprise"] == pytest.approx(0.2)


def test_ferplus_drops_unknown_not_a_face_contempt_missing_and_broken_rows(ferplus_root: Path) -> None:
    dataset = read_ferplus(ferplus_root, "Training")
    reasons = [s.reason for s in dataset.skipped]

    assert "majority vote is unknown" in reasons
    assert "majority vote is NF" in reasons
    assert any("contempt not in the class list" in r for r in reasons)
    assert any("fer0000009.png missing" in r for r in reasons)
    assert any(r.startswith("broken row") for r in reasons)
    assert len(dataset) + len(dataset.skipped) == len(FERPLUS_ROWS) + 2


def test_ferplus_keeps_contempt_for_the_eight_class_problem(ferplus_root: Path) -> None:
    dataset = read_ferplus(ferplus_root, "Training", classes=FERPLUS_EMOTIONS)
    names = [dataset.class_names[i] for i in dataset.labels]
    assert names == ["neutral", "happy", "contempt", "fear"]
    assert dataset.soft_labels is not None and dataset.soft_labels.shape[1] == 8


def test_ferplus_errors_name_the_missing_folder_or_file(tmp_path: Path, ferplus_root: Path) -> None:
    with pytest.raises(DatasetError, match="FER2013Valid"):
        read_ferplus(ferplus_root, "PublicTest")
    with pytest.raises(DatasetError, match=r"FER\+ has no class \['bored'\]"):
        read_ferplus(ferplus_root, "Training", classes=("happy", "bored"))
    (ferplus_root / "ferplus" / "FER2013Train" / "label.csv").unlink()
    with pytest.raises(DatasetError, match=r"FER\+ vote file not found"):
        read_ferplus(ferplus_root, "Training")


# ------------------------------------------------------------------------------------ class folders


def test_class_folders_read_any_class_set_and_report_strays(tmp_path: Path) -> None:
    root = tmp_path / "pets"
    write_face(root / "cat" / "a.png", 1)
    write_face(root / "cat" / "nested" / "b.png", 2, size=64)  # any size: preprocess_face resizes
    write_face(root / "dog" / "c.jpg", 3)
    (root / "dog" / "notes.txt").write_text("not an image")
    write_face(root / "bird" / "d.png", 4)

    dataset = read_class_folders(root, classes=("cat", "dog"))

    assert dataset.class_names == ("cat", "dog")
    assert sorted(dataset.class_counts().items()) == [("cat", 2), ("dog", 1)]
    assert dataset.images.shape == (3, 48, 48, 1)
    reasons = {Path(s.source).name: s.reason for s in dataset.skipped}
    assert reasons["notes.txt"] == "not an image file"
    assert "not one of the classes" in reasons["bird"]


def test_class_folders_undecodable_image_is_skipped_with_its_reason(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    write_face(root / "happy" / "good.png", 1)
    (root / "happy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "sad").mkdir()
    (root / "sad" / "empty.jpg").write_bytes(b"")

    dataset = read_class_folders(root)

    assert [Path(s).name for s in dataset.sources] == ["good.png"]
    reasons = {Path(s.source).name: s.reason for s in dataset.skipped}
    assert "not a readable image" in reasons["broken.png"]
    assert "empty" in reasons["empty.jpg"]


def test_class_folders_wrong_path_and_empty_set_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"class-folder data set not found at .*pass --data PATH"):
        read_class_folders(tmp_path / "missing")
    (tmp_path / "empty" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetError, match="expected sub-folders named angry, disgust"):
        read_class_folders(tmp_path / "empty")


def test_the_ferplus8_source_is_fer_plus_with_contempt_through_load_split(
    ferplus_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``source="ferplus8"`` (train, evaluate, export) reads FER+'s 8 classes; ``"ferplus"`` its 7,
    each cached on its own so one never hands out the other's labels."""
    from training.data import SOURCES, layout_of, load_split

    monkeypatch.setenv("FERDESK_CACHE", str(tmp_path / "cache"))
    seven = load_split(ferplus_root, "Training", "ferplus", show_progress=False)
    eight = load_split(ferplus_root, "Training", "ferplus8", show_progress=False)
    assert seven.class_names == EMOTIONS and eight.class_names == FERPLUS_EMOTIONS
    assert "contempt" in [eight.class_names[i] for i in eight.labels]
    assert len(eight) == len(seven) + 1
    again = load_split(ferplus_root, "Training", "ferplus8", show_progress=False)  # from the cache
    assert again.class_names == FERPLUS_EMOTIONS and np.array_equal(again.labels, eight.labels)
    assert "ferplus8" in SOURCES and layout_of("ferplus8") == "ferplus" == layout_of("ferplus")
