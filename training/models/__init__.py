"""One model registry (timm style): a tiny registered function per variant, one file per family.

``create_model("vgg_compact", num_classes=7)`` builds a Keras 3 model that maps a
``(48, 48, 1)`` float input in [0, 1] (what ``preprocess_face`` returns) to class probabilities.
Model code uses only ``keras.layers``/``keras.ops``, so it trains unchanged on the TensorFlow,
JAX or PyTorch backend.
"""

from __future__ import annotations

import difflib
import fnmatch
import warnings
from collections.abc import Callable

import keras

ModelFactory = Callable[..., keras.Model]
_REGISTRY: dict[str, ModelFactory] = {}


def register_model(factory: ModelFactory) -> ModelFactory:
    """Register ``factory`` under its function name; a second registration of a name warns."""
    name = factory.__name__
    if name in _REGISTRY:
        warnings.warn(f"Model {name!r} registered twice; the later definition wins.", stacklevel=2)
    _REGISTRY[name] = factory
    return factory


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    _import_families()
    return sorted(name for name in _REGISTRY if fnmatch.fnmatch(name, pattern))


def create_model(name: str, num_classes: int = 7, input_size: int = 48, **kwargs: object) -> keras.Model:
    """Build a registered model; an unknown name raises with the closest known names."""
    _import_families()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown model {name!r}.{hint} Known models: {', '.join(sorted(_REGISTRY))}.")
    return _REGISTRY[name](num_classes=num_classes, input_size=input_size, **kwargs)


def _import_families() -> None:
    # Explicit imports (not star-import side effects) so the registry's contents are obvious.
    from training.models import cnn, efficientnet, fcnn, mobilenet, resnet, transfer, vgg  # noqa: F401
