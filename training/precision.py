"""Training precision: float32, or bfloat16 compute with float32 weights where the CPU has it.

On a CPU with AVX-512 BF16 / AMX (the Intel Xeon this project trains on), ``mixed_bfloat16``
trains ``vgg_compact_s2`` 1.43-1.48x faster than float32 (``benchmarks/bench_training.py
--precision``, docs/benchmarks.md): an epoch bought for less. The weights and the optimizer's
state stay float32 (Keras's mixed policy), so a run resumes under either precision, and the
network's output layer computes in float32 so the loss sees full-precision probabilities.

What the app runs never changes with it: :func:`float32_copy` rebuilds a checkpoint's network
in float32 with the same weights before it is evaluated, explained or converted to ``.tflite``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

PRECISIONS = ("float32", "mixed_bfloat16")
_CPU_FLAGS_WITH_BF16 = ("avx512_bf16", "amx_bf16")


def check_precision(name: str) -> None:
    if name not in PRECISIONS:
        raise ValueError(
            f"precision == {name!r}; use one of {list(PRECISIONS)} (mixed_bfloat16 pays off on CPUs "
            "with AVX-512 BF16 or AMX and on GPUs; float32 elsewhere)."
        )


def cpu_has_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """True/False from the CPU's flags (Linux); None where they cannot be read."""
    try:
        flags = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    return any(flag in flags.split() for flag in _CPU_FLAGS_WITH_BF16)


def precision_warning(name: str) -> str | None:
    """What to tell the user who asked for bfloat16 on a CPU that emulates it (slower, not faster)."""
    if name != "mixed_bfloat16" or cpu_has_bfloat16() is not False:
        return None
    return (
        "precision mixed_bfloat16 on a CPU without AVX-512 BF16 or AMX: bfloat16 is emulated there "
        'and trains slower than float32; set "precision": "float32" for runs on this machine.'
    )


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers built inside take this policy; the global one is restored afterwards."""
    check_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _with_layer_dtypes(config: Any, dtype: str, only: set[str] | None) -> Any:
    """``config`` with every layer's dtype policy (or those named in ``only``) set to ``dtype``."""
    if isinstance(config, list):
        return [_with_layer_dtypes(item, dtype, only) for item in config]
    if not isinstance(config, dict):
        return config
    copied = {key: _with_layer_dtypes(value, dtype, only) for key, value in config.items()}
    inner = copied.get("config")
    has_policy = isinstance(inner, dict) and isinstance(inner.get("dtype"), dict)  # a layer's
    if has_policy and (only is None or inner.get("name") in only):
        inner["dtype"] = dtype
    return copied


def rebuilt_with_dtype(model: keras.Model, dtype: str, only: set[str] | None = None) -> keras.Model:
    """The same network and weights with ``dtype`` as the compute policy of its layers."""
    config = _with_layer_dtypes(model.get_config(), dtype, only)
    rebuilt = model.__class__.from_config(config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def is_mixed(model: keras.Model) -> bool:
    return any(layer.dtype_policy.name != "float32" for layer in _all_layers(model))


def _all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` itself when it computes in float32, else a float32 rebuild with its weights."""
    return rebuilt_with_dtype(model, "float32") if is_mixed(model) else model


def build_in_precision(build, name: str) -> keras.Model:
    """``build()`` under the policy ``name``; under a mixed one the output layer stays float32."""
    with dtype_policy(name):
        model = build()
    if name == "float32":
        return model
    return rebuilt_with_dtype(model, "float32", only={model.layers[-1].name})
