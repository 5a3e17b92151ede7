"""Test set-up shared by every test: headless Qt, the repository on sys.path, data locations."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: The shared data sets (FER2013, FER+) live beside the repository; a fresh clone has none.
SHARED_DATA = Path(os.environ.get("FERDESK_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "fer2013" / "test").is_dir():
        pytest.skip(f"FER2013 not found at {SHARED_DATA} (see ../shared/data/README.md); data tests skipped")
    return SHARED_DATA


@pytest.fixture(scope="session")
def astronaut_rgb():
    """scikit-image's public-domain astronaut photo: one smiling face (NASA, Eileen Collins)."""
    import numpy as np
    from skimage import data

    return np.ascontiguousarray(data.astronaut())
