"""Training past one device with Keras's own engine: ``keras.distribution.DataParallel`` on the JAX
backend (the model replicated on every device, each batch split across them, gradients reduced by
XLA's collectives — no hand-written exchange).

On a multi-GPU host::

    KERAS_BACKEND=jax python -m training train --config training/configs/vgg_medium_long.json \\
        --data-parallel --batch-size 512 --run ~/.cache/ferdesk/runs/vgg_medium-gpu

``--batch-size`` is the global batch (split evenly, so it must be a multiple of the device count).
On a CPU the same path runs on virtual devices, which is how the tests check that two devices give
the single-device result: ``XLA_FLAGS=--xla_force_host_platform_device_count=2``.
"""

from __future__ import annotations


def enable_data_parallel(batch_size: int) -> int:
    """Distribute the next ``fit`` over every local device; returns how many there are."""
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError(
            f"--data-parallel uses keras.distribution, which runs on the JAX backend; Keras runs on "
            f"{keras.backend.backend()!r}. Start it with KERAS_BACKEND=jax (pip install jax), or use "
            "PyTorch DDP via torchrun outside this command."
        )
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        raise ValueError(
            f"--batch-size {batch_size} does not split evenly over {len(devices)} devices; use a multiple "
            f"of {len(devices)}."
        )
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return len(devices)
