"""FER+ votes mixed into FER2013's targets: faces paired by pixels, the mix, and a real training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ferdesk.vision.emotions import EMOTIONS
from training.data import load_split
from training.ferplus_votes import (
    MATCH_RMS_LEVELS,
    FerPlusVotes,
    ferplus_votes,
    mixed_targets,
    nearest_images,
)
from training.synthetic import write_tiny_fer2013, write_tiny_ferplus
from training.train import TrainConfig, train

SKIPPED_FACES = 3


@pytest.fixture
def tiny_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``fer2013/`` (4 Training faces a class) and ``ferplus/`` holding all but three of them."""
    monkeypatch.setenv("FERDESK_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    write_tiny_fer2013(root / "fer2013")
    write_tiny_ferplus(root / "fer2013", root / "ferplus", skip=SKIPPED_FACES)
    return root


def test_lossy_copies_are_paired_with_their_originals_and_other_faces_are_not() -> None:
    rng = np.random.default_rng(0)
    originals = rng.integers(0, 256, (40, 48, 48, 1)).astype(np.float32) / 255
    order = rng.permutation(40)
    # A JPEG-like copy: every pixel off by up to 3 grey levels.
    copies = np.clip(originals[order] + rng.integers(-3, 4, originals[order].shape) / 255, 0, 1)

    nearest, rms = nearest_images(copies, originals, chunk=7)  # chunks that do not divide 40

    np.testing.assert_array_equal(nearest, order)
    assert rms.max() < MATCH_RMS_LEVELS
    _, strangers = nearest_images(copies, np.delete(originals, order[0], axis=0))
    assert strangers[0] > 10 * MATCH_RMS_LEVELS  # the face whose original is gone pairs with nothing


def test_fer2013_faces_get_their_ferplus_votes_by_pixels(tiny_data: Path) -> None:
    faces = load_split(tiny_data, "Training", "fer2013", show_progress=False)

    votes = ferplus_votes(tiny_data, "Training", faces)

    assert votes.matched_count == len(faces) - SKIPPED_FACES
    first = sorted(range(len(faces)), key=lambda i: Path(faces.sources[i]).name)[:SKIPPED_FACES]
    assert not votes.matched[first].any()  # the faces FER+ does not have
    for i in np.flatnonzero(votes.matched):
        own, following = faces.labels[i], (faces.labels[i] + 1) % len(EMOTIONS)
        assert votes.distributions[i, own] == pytest.approx(0.6)
        assert votes.distributions[i, following] == pytest.approx(0.4)
    np.testing.assert_array_equal(votes.distributions[~votes.matched], 0.0)


def test_the_mix_moves_matched_targets_only() -> None:
    one_hot = np.eye(3, dtype=np.float32)
    votes = FerPlusVotes(
        distributions=np.asarray([[0.5, 0.5, 0], [0, 0, 0], [0, 0.2, 0.8]], np.float32),
        matched=np.asarray([True, False, True]),
    )

    mixed = mixed_targets(one_hot, votes, 0.5)

    np.testing.assert_allclose(mixed, [[0.75, 0.25, 0], [0, 1, 0], [0, 0.1, 0.9]])
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="differ"):
        mixed_targets(one_hot[:2], votes, 0.5)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        mixed_targets(one_hot, votes, 1.5)


def test_settings_that_cannot_mix_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="already trains on FER\\+"):
        TrainConfig(model="tiny_cnn", source="ferplus", ferplus_weight=0.5).validate()
    with pytest.raises(ValueError, match=r"ferplus_weight == 2.0, must be in \[0, 1\]"):
        TrainConfig(model="tiny_cnn", ferplus_weight=2.0).validate()


def test_a_run_trains_on_the_mixed_targets(tiny_data: Path, tmp_path: Path, capsys) -> None:
    config = TrainConfig(
        data=str(tiny_data), model="tiny_cnn", epochs=1, batch_size=8, warmup_epochs=0, ferplus_weight=0.5
    )

    state = train(config, tmp_path / "run", verbose=0)

    out = capsys.readouterr().out
    assert f"FER+ votes: {7 * 4 - SKIPPED_FACES} of {7 * 4} Training faces matched" in out
    assert state["epoch"] == 1 and (tmp_path / "run" / "best.keras").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["ferplus_weight"] == 0.5
