"""Transfer-learning backbones (the CS767 study's ResNet-50 path) and how their weights are loaded.

ImageNet or VGGFace weights cannot be downloaded here, so a backbone is built with
``weights=None`` and ``python -m training train --init-weights PATH`` loads a local file:

* a ``.keras`` checkpoint of ours (e.g. the FER+ pretraining run's ``best.keras``): every layer
  whose name and weight shapes match is copied, the rest (a head with other classes) stays new;
* a Keras weights file of the same network (``.weights.h5``);
* the backbone's own weights file (the ``*_notop.h5`` files ``keras.applications`` downloads,
  e.g. ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``), loaded into the backbone.

The gray 48x48 face is upscaled inside the model to the size the backbone is built for, its one
channel repeated to RGB and scaled the way the backbone's weights expect, so the app still feeds
``preprocess_face`` output.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
from keras import layers

from training.models import register_model

#: Caffe-style channel means (BGR order) the keras.applications ResNet-50 weights were trained with.
CAFFE_MEANS_BGR = (103.939, 116.779, 123.68)
#: Name of the nested backbone model inside a transfer network (frozen by --freeze-epochs).
BACKBONE = "backbone"


def backbone_classifier(
    backbone: keras.Model,
    num_classes: int,
    input_size: int,
    backbone_size: int,
    dropout: float,
    scale: float = 255.0,
    means: tuple[float, float, float] | None = None,
    name: str = "transfer",
) -> keras.Model:
    """face (S, S, 1) in [0, 1] → resize → RGB → scale (and mean-subtract) → backbone → softmax."""
    backbone.name = BACKBONE
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    if backbone_size != input_size:
        x = layers.Resizing(backbone_size, backbone_size, interpolation="bilinear", name="upscale")(x)
    x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = layers.Rescaling(scale, name="to_pixels")(x)
    if means is not None:
        x = layers.Normalization(mean=list(means), variance=[1.0, 1.0, 1.0], name="mean_subtract")(x)
    x = backbone(x)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model
def resnet50_transfer(
    num_classes: int = 7, input_size: int = 48, dropout: float = 0.3, backbone_size: int = 96, **kwargs
) -> keras.Model:
    """keras.applications ResNet-50 (no top, 23.6 M parameters) at ``backbone_size`` RGB.

    The CS767 study used 197-224 px with VGGFace weights (~71 %); 96 px keeps a CPU epoch within
    hours. Pass ``--init-weights`` with the backbone's weights file to transfer.
    """
    backbone = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(backbone_size, backbone_size, 3), pooling="avg"
    )
    return backbone_classifier(
        backbone,
        num_classes,
        input_size,
        backbone_size,
        dropout,
        means=CAFFE_MEANS_BGR,
        name="resnet50_transfer",
    )


def _copy_matching(source: keras.Model, target: keras.Model) -> tuple[int, list[str]]:
    """Copy weights layer by layer where names and shapes agree (recursing into nested models)."""

    def flat(model: keras.Model) -> dict[str, keras.layers.Layer]:
        found: dict[str, keras.layers.Layer] = {}
        for layer in model.layers:
            if isinstance(layer, keras.Model):
                found.update(flat(layer))
            elif layer.weights:
                found[layer.name] = layer
        return found

    source_layers, copied, skipped = flat(source), 0, []
    for name, layer in flat(target).items():
        other = source_layers.get(name)
        if other is None:
            skipped.append(f"{name} (not in the file)")
            continue
        weights = other.get_weights()
        if [w.shape for w in weights] != [np.shape(w) for w in layer.get_weights()]:
            skipped.append(f"{name} (shapes differ)")
            continue
        layer.set_weights(weights)
        copied += 1
    return copied, skipped


def load_init_weights(model: keras.Model, path: str | os.PathLike) -> str:
    """Load ``path`` into ``model`` as described in the module docstring; returns what was done."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"--init-weights {path}: no such file. Expected a .keras checkpoint (a run's best.keras), a "
            "Keras .weights.h5 file, or the backbone's own .h5 weights file."
        )
    if path.suffix == ".keras":
        source = keras.models.load_model(path, compile=False)
        copied, skipped = _copy_matching(source, model)
        if not copied:
            raise ValueError(
                f"--init-weights {path}: no layer of {source.name!r} matches {model.name!r} by name and "
                "shape; start from a checkpoint of the same architecture."
            )
        note = f"; new: {', '.join(skipped)}" if skipped else ""
        return f"copied {copied} layers from {path.name}{note}"
    if not path.name.endswith(".h5"):
        raise ValueError(f"--init-weights {path}: expected a .keras or .h5 file, got '{path.suffix}'.")
    errors = []
    try:
        model.load_weights(path)
        return f"loaded {path.name} into the whole network"
    except (ValueError, KeyError, OSError) as error:
        errors.append(f"whole network: {error}")
    backbone = next((layer for layer in model.layers if layer.name == BACKBONE), None)
    if backbone is not None:
        try:
            backbone.load_weights(path)
            return f"loaded {path.name} into the {backbone.name} ({len(backbone.weights)} tensors)"
        except (ValueError, KeyError, OSError) as error:
            errors.append(f"backbone: {error}")
    raise ValueError(
        f"--init-weights {path}: does not fit {model.name!r} ({'; '.join(e[:200] for e in errors)}). Use "
        "weights saved from the same architecture (model.save_weights) or the backbone's own file."
    )
