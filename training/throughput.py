"""Faces per second of a training loop, measured the same way for a bare ``fit`` and for ``train``.

The first batches of a ``fit`` build and compile the step; they are left out so the figure is the
steady-state cost the remaining hours of a run pay.
"""

from __future__ import annotations

import time

import keras
import numpy as np

#: Batches at the start of a fit that are not timed (graph tracing, allocation).
WARMUP_BATCHES = 2


class FacesPerSecond(keras.callbacks.Callback):
    """Times every training batch after the warm-up; ``faces_per_s`` is the steady-state rate."""

    def __init__(self, batch_size: int, warmup_batches: int = WARMUP_BATCHES) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.warmup_batches = warmup_batches
        self.seconds = 0.0
        self.batches = 0
        self._seen = 0
        self._started = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._seen += 1
        if self._seen > self.warmup_batches:
            self.seconds += time.perf_counter() - self._started
            self.batches += 1

    @property
    def faces_per_s(self) -> float:
        return self.batches * self.batch_size / self.seconds if self.seconds else float("nan")


def bare_faces_per_second(network: str, faces: int = 256, batch_size: int = 64, seed: int = 0) -> float:
    """Forward + backward + AdamW step of ``network`` on random faces (no augmentation, no data)."""
    from training.models import create_model

    keras.utils.set_random_seed(seed)
    model = create_model(network)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
    rng = np.random.default_rng(seed)
    count = max(faces, 2 * batch_size) + WARMUP_BATCHES * batch_size
    images = rng.random((count, *model.input_shape[1:]), dtype=np.float32)
    targets = np.eye(int(model.output_shape[-1]), dtype=np.float32)[rng.integers(0, 7, count)]
    timer = FacesPerSecond(batch_size)
    model.fit(images, targets, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    return timer.faces_per_s
