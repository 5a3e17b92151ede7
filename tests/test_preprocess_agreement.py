"""The training input pipeline and the app give the model the very same pixels for the same file.

Training reads images with ``training.data`` (``read_fer2013_folder``, ``read_class_folders``,
``read_fer2013_csv`` and the cached ``load_split``); the app reads a file with ``load_image`` and
feeds it through ``preprocess_face`` inside ``FaceAnalyzer.analyze(..., faces='whole')`` and
``EmotionClassifier.classify_crops``. If the two ever drift (another resize, a colour conversion,
a different scale) accuracy silently drops; here they must agree bit for bit, and so must the
probabilities the shipped model gives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.classifier import EmotionClassifier
from ferdesk.vision.imageio import load_image
from ferdesk.vision.preprocess import preprocess_face
from training.data import load_split, read_class_folders, read_fer2013_csv, read_fer2013_folder


def _face_like(height: int, width: int, seed: int, channels: int = 3) -> np.ndarray:
    """A smooth face-sized gradient with texture: resizing it exercises real interpolation."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = 128 + 60 * np.sin(xx / width * 3.1 + seed) * np.cos(yy / height * 2.3)
    planes = [base + rng.normal(0, 25, (height, width)) + 15 * c for c in range(channels)]
    return np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer() as face_analyzer:  # the shipped model; 'whole' never starts the detector
        yield face_analyzer


def _index_of(dataset, path: Path) -> int:
    return dataset.sources.index(str(path))


def assert_app_agrees(analyzer: FaceAnalyzer, path: Path, training_face: np.ndarray) -> None:
    """The app's three entry points see ``training_face`` exactly and give identical probabilities."""
    rgb = load_image(path)
    assert np.array_equal(preprocess_face(rgb), training_face), f"{path}: preprocess_face differs"

    classifier = analyzer.classifier
    seen: list[np.ndarray] = []
    real_predict = classifier.predict

    def recording_predict(faces: np.ndarray, **options) -> np.ndarray:
        seen.append(np.array(faces, copy=True))
        return real_predict(faces, **options)

    classifier.predict = recording_predict
    try:
        faces = analyzer.analyze(rgb, faces="whole")
    finally:
        del classifier.predict
    assert len(seen) == 1 and seen[0].dtype == np.float32
    assert np.array_equal(seen[0], training_face[np.newaxis]), f"{path}: the analyzer fed other pixels"

    expected = classifier.predict(training_face[np.newaxis])[0]
    from_analyzer = np.asarray([faces[0].probabilities[label] for label in classifier.labels], np.float32)
    assert np.array_equal(from_analyzer, expected)
    assert faces[0].emotion == classifier.labels[int(np.argmax(expected))]
    assert np.array_equal(classifier.classify_crops([rgb])[0], expected)


def test_small_gray_jpeg_in_kaggle_layout(tmp_path, analyzer):
    root = tmp_path / "fer2013"
    path = root / "train" / "happy" / "Training_00000001.jpg"
    path.parent.mkdir(parents=True)
    Image.fromarray(_face_like(48, 48, seed=1, channels=1)[:, :, 0]).save(path, quality=90)
    dataset = read_fer2013_folder(root, "Training")
    assert dataset.images.dtype == np.float32 and dataset.images.shape == (1, 48, 48, 1)
    assert_app_agrees(analyzer, path, dataset.images[_index_of(dataset, path)])


def test_large_rgb_crops_in_class_folders_and_kaggle_layout(tmp_path, analyzer):
    class_root = tmp_path / "mine"
    kaggle_root = tmp_path / "fer2013"
    written = []
    for index, (height, width) in enumerate([(157, 131), (300, 240), (40, 33)]):
        rgb = _face_like(height, width, seed=10 + index)
        class_path = class_root / "surprise" / f"face{index}.png"
        kaggle_path = kaggle_root / "test" / "surprise" / f"PrivateTest_{index:08d}.png"
        for path in (class_path, kaggle_path):
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(path)
        written.append((class_path, kaggle_path))
    # A 16-bit grayscale scan as well: load_image maps it to 8 bits for both paths.
    deep = (_face_like(96, 80, seed=7, channels=1)[:, :, 0].astype(np.uint16) * 257).astype(np.uint16)
    deep_path = class_root / "sad" / "scan16.png"
    deep_path.parent.mkdir(parents=True)
    Image.fromarray(deep).save(deep_path)

    folders = read_class_folders(class_root)
    kaggle = read_fer2013_folder(kaggle_root, "PrivateTest")
    assert len(folders) == 4 and len(kaggle) == 3
    for class_path, kaggle_path in written:
        face = folders.images[_index_of(folders, class_path)]
        assert np.array_equal(face, kaggle.images[_index_of(kaggle, kaggle_path)])
        assert_app_agrees(analyzer, class_path, face)
    assert_app_agrees(analyzer, deep_path, folders.images[_index_of(folders, deep_path)])


def test_csv_row_and_png_of_the_same_pixels_agree(tmp_path, analyzer):
    pixels = _face_like(48, 48, seed=3, channels=1)[:, :, 0]
    png = tmp_path / "fer2013" / "test" / "angry" / "PublicTest_00000007.png"
    png.parent.mkdir(parents=True)
    Image.fromarray(pixels).save(png)
    csv_path = tmp_path / "fer2013.csv"
    row = " ".join(str(value) for value in pixels.ravel())
    csv_path.write_text(f"emotion,pixels,Usage\n0,{row},PublicTest\n")
    from_csv = read_fer2013_csv(csv_path, "PublicTest")
    from_folder = read_fer2013_folder(tmp_path / "fer2013", "PublicTest")
    assert np.array_equal(from_csv.images[0], from_folder.images[0])
    assert from_csv.labels[0] == from_folder.labels[0] == 0
    assert_app_agrees(analyzer, png, from_csv.images[0])


@pytest.mark.data
def test_real_fer2013_files_through_reader_cache_and_app(shared_data, tmp_path, monkeypatch, analyzer):
    """A few real FER2013 JPEGs: the reader, the cached arrays training uses, and the app agree."""
    monkeypatch.setenv("FERDESK_CACHE", str(tmp_path / "cache"))
    copy_root = tmp_path / "fer2013"
    originals: dict[Path, Path] = {}
    for class_name in ("happy", "sad", "surprise", "disgust"):
        source_dir = shared_data / "fer2013" / "test" / class_name
        for source in sorted(source_dir.glob("PrivateTest_*.jpg"))[:3]:
            target = copy_root / "test" / class_name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            originals[target] = source
    assert len(originals) == 12
    read = read_fer2013_folder(copy_root, "PrivateTest")
    first = load_split(copy_root, "PrivateTest", show_progress=False)  # reads and writes the cache
    cached = load_split(copy_root, "PrivateTest", show_progress=False)  # from the .npz cache
    assert list((tmp_path / "cache" / "datasets").glob("fer2013-PrivateTest-*.npz"))
    for dataset in (first, cached):
        assert dataset.sources == read.sources
        assert np.array_equal(dataset.images, read.images) and np.array_equal(dataset.labels, read.labels)
    for copy, original in originals.items():
        assert_app_agrees(analyzer, original, cached.images[_index_of(cached, copy)])
    # The whole batch through the classifier equals the faces one by one, as the app sends them.
    classifier = EmotionClassifier()
    one_by_one = np.concatenate([classifier.predict(face[np.newaxis]) for face in cached.images])
    assert np.allclose(classifier.predict(cached.images), one_by_one, atol=1e-5)
