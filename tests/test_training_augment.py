"""Augmentation does what its settings say (and nothing else), repeatably; the preview grid shows it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.augment import AugmentConfig, AugmentedFaces, augment_batch, class_weights

NOTHING = AugmentConfig(
    flip=False, rotation_degrees=0, zoom=0, translate=0, brightness=0, contrast=0, erasing_probability=0
)


def asymmetric_faces(count: int) -> np.ndarray:
    """A horizontal ramp plus a bright block near the left edge: any mirror is unmistakable."""
    faces = np.tile(np.linspace(0.1, 0.6, 48, dtype=np.float32), (count, 48, 1))[..., np.newaxis]
    faces[:, 10:20, 3:9, 0] = 1.0
    return faces


def random_faces(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((count, 48, 48, 1), dtype=np.float32)


def test_default_augmentation_keeps_shape_dtype_and_range_and_leaves_the_input_alone() -> None:
    faces = random_faces(32)
    before = faces.copy()

    out = augment_batch(faces, np.random.default_rng(1), AugmentConfig())

    assert out.shape == faces.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(faces, before)
    assert not np.allclose(out, faces)


def test_all_settings_off_is_the_identity() -> None:
    faces = random_faces(4)
    assert not NOTHING.enabled
    np.testing.assert_array_equal(augment_batch(faces, np.random.default_rng(0), NOTHING), faces)


def test_flip_mirrors_the_face_and_does_nothing_else() -> None:
    faces = asymmetric_faces(40)
    out = augment_batch(faces, np.random.default_rng(3), replace(NOTHING, flip=True))

    mirrored = faces[:, :, ::-1, :]
    is_mirror = [np.allclose(o, m, atol=1e-6) for o, m in zip(out, mirrored, strict=True)]
    is_same = [np.allclose(o, f, atol=1e-6) for o, f in zip(out, faces, strict=True)]
    assert all(a or b for a, b in zip(is_mirror, is_same, strict=True)), "flip changed more than the side"
    assert 8 <= sum(is_mirror) <= 32, f"about half should be mirrored, got {sum(is_mirror)} of 40"
    flipped = out[int(np.argmax(is_mirror))]
    assert flipped[15, 39:45, 0].min() == pytest.approx(1.0)  # the block moved to the right edge
    assert flipped[15, 3:9, 0].max() < 1.0


def test_erasing_paints_one_constant_rectangle() -> None:
    faces = asymmetric_faces(12)
    out = augment_batch(faces, np.random.default_rng(5), replace(NOTHING, erasing_probability=1.0))

    for original, erased in zip(faces, out, strict=True):
        changed = np.argwhere(~np.isclose(original[..., 0], erased[..., 0]))
        assert len(changed) > 0, "erasing with probability 1 left a face untouched"
        (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
        patch = erased[top : bottom + 1, left : right + 1, 0]
        assert np.ptp(patch) == pytest.approx(0.0), "the erased area is not one constant rectangle"
        area = (bottom - top + 1) * (right - left + 1)
        assert area <= 0.15 * 48 * 48 + 48  # at most 15 % of the face (plus rounding)


def test_brightness_shifts_every_pixel_of_a_face_by_the_same_amount() -> None:
    faces = np.full((16, 48, 48, 1), 0.5, np.float32)
    out = augment_batch(faces, np.random.default_rng(2), replace(NOTHING, brightness=0.2))
    shifts = (out - faces).reshape(16, -1)
    np.testing.assert_allclose(shifts, shifts[:, :1].repeat(shifts.shape[1], axis=1), atol=1e-6)
    assert np.abs(shifts[:, 0]).max() <= 0.2 + 1e-6
    assert np.ptp(shifts[:, 0]) > 0.01


def test_same_seed_same_faces_other_seed_other_faces() -> None:
    faces = random_faces(16)
    config = AugmentConfig(erasing_probability=0.5)
    first = augment_batch(faces, np.random.default_rng(42), config)
    again = augment_batch(faces, np.random.default_rng(42), config)
    other = augment_batch(faces, np.random.default_rng(43), config)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_augmented_batches_depend_only_on_seed_and_epoch() -> None:
    faces = random_faces(20)
    targets = np.eye(7, dtype=np.float32)[np.arange(20) % 7]
    weights = np.linspace(0.5, 2.0, 20).astype(np.float32)
    batches = AugmentedFaces(faces, targets, weights, batch_size=8, config=AugmentConfig(), seed=7)

    assert len(batches) == 3
    seen = np.concatenate([batches[i][2] for i in range(len(batches))])
    np.testing.assert_array_equal(np.sort(seen), np.sort(weights))  # every face once per epoch
    epoch0 = [batches[i][0] for i in range(3)]
    batches.on_epoch_end()
    epoch1 = batches[0][0]
    assert not np.allclose(epoch0[0], epoch1)

    # A resumed run builds its batches with epoch=1 and gets exactly what the uninterrupted run got.
    resumed = AugmentedFaces(faces, targets, weights, 8, AugmentConfig(), seed=7, epoch=1)
    np.testing.assert_array_equal(resumed[0][0], epoch1)
    no_weights = AugmentedFaces(faces, targets, None, 8, AugmentConfig(), seed=7)
    assert len(no_weights[0]) == 2


def test_class_weights_favour_rare_classes_by_the_chosen_power() -> None:
    counts = np.array([400, 25, 100, 50, 200, 80, 300])
    labels = np.repeat(np.arange(7), counts)

    flat = class_weights(labels, 7, power=0.0)
    assert set(flat.values()) == {1.0}

    full = class_weights(labels, 7, power=1.0)
    root = class_weights(labels, 7, power=0.5)
    assert full[1] / full[0] == pytest.approx(16.0)  # 400 / 25
    assert root[1] / root[0] == pytest.approx(4.0)  # its square root
    for weights in (full, root):
        per_face = np.array([weights[label] for label in labels])
        assert per_face.mean() == pytest.approx(1.0)  # normalised: the loss scale stays the same


def test_class_weights_of_a_subset_missing_a_class_still_average_one_per_face() -> None:
    """``limit_train`` subsets can miss a rare class; the faces present must still average 1."""
    labels = np.array([0] * 400 + [1] * 25 + [3] * 100)

    weights = class_weights(labels, 7, power=1.0)

    assert all(np.isfinite(w) for w in weights.values())
    per_face = np.array([weights[label] for label in labels])
    assert per_face.mean() == pytest.approx(1.0)
    assert weights[1] / weights[0] == pytest.approx(16.0)


# ------------------------------------------------------------------------------------ preview grid


def write_faces(root: Path, classes: dict[str, int], prefix: str = "") -> None:
    rng = np.random.default_rng(0)
    for name, count in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (48, 48), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{prefix}{name}_{i}.png")


def test_preview_mosaic_puts_the_untouched_original_first() -> None:
    from training.cli_augment import preview_mosaic

    faces = asymmetric_faces(3)
    mosaic = preview_mosaic(faces, AugmentConfig(), cols=4, seed=0)

    assert mosaic.shape == (3 * 48 + 2 * 2, 4 * 48 + 3 * 2)
    for row in range(3):
        np.testing.assert_array_equal(mosaic[row * 50 : row * 50 + 48, :48], faces[row, :, :, 0])
    assert not np.allclose(mosaic[:48, 50:98], faces[0, :, :, 0])
    with pytest.raises(ValueError, match="cols == 1, must be >= 2"):
        preview_mosaic(faces, AugmentConfig(), cols=1)


def test_cli_writes_a_grid_from_a_class_folder_set(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from training.__main__ import main

    root = tmp_path / "faces"
    write_faces(root, {"happy": 3, "sad": 3})
    out = tmp_path / "grid.png"

    args = ["augment", "--data", str(root), "--out", str(out), "--rows", "4", "--cols", "5", "--no-flip"]
    code = main(args)

    assert code == 0
    with Image.open(out) as grid:
        assert grid.width > 200 and grid.height > 200
    printed = capsys.readouterr().out
    assert printed.count("happy:") == 2 and printed.count("sad:") == 2  # classes taken in turn


def test_cli_reads_the_kaggle_layout_and_refuses_a_bad_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from training.__main__ import main

    write_faces(tmp_path / "fer2013" / "train", {"angry": 2, "fear": 2}, prefix="Training_")
    out = tmp_path / "grid.png"
    assert main(["augment", "--data", str(tmp_path), "--out", str(out), "--rows", "2", "--cols", "3"]) == 0
    assert out.is_file()
    assert "Training_angry_" in capsys.readouterr().out

    assert main(["augment", "--data", str(tmp_path), "--cols", "1"]) == 2
    assert "--cols == 1, must be >= 2" in capsys.readouterr().err
    assert main(["augment", "--data", str(tmp_path), "--zoom", "-0.5"]) == 2
    assert "--zoom == -0.5, must be in [0, 1]" in capsys.readouterr().err
    assert main(["augment", "--data", str(tmp_path / "nowhere")]) == 2
    assert "Data folder not found" in capsys.readouterr().err


def test_epoch_arrays_are_the_epochs_batches_in_order() -> None:
    faces = random_faces(20)
    targets = np.eye(7, dtype=np.float32)[np.arange(20) % 7]
    weights = np.linspace(0.5, 2.0, 20).astype(np.float32)
    batches = AugmentedFaces(faces, targets, weights, 8, AugmentConfig(), seed=7, mixup_alpha=0.2)
    images, mixed, kept = batches.epoch_arrays()
    assert images.shape == faces.shape and mixed.shape == targets.shape and kept is not None
    for index in range(len(batches)):
        part = slice(index * 8, (index + 1) * 8)
        for joined, alone in zip((images, mixed, kept), batches[index], strict=True):
            np.testing.assert_array_equal(joined[part], alone)
    assert AugmentedFaces(faces, targets, None, 8, AugmentConfig(), seed=7).epoch_arrays()[2] is None
