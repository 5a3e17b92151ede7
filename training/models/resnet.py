"""A ResNet for 48x48 faces: pre-activation-free basic blocks (3x3 + 3x3, identity shortcut),
a 3x3 stem at full resolution and four stages 32-64-128-256 (stride 2 from the second stage).

ImageNet ResNets open with a 7x7 stride-2 conv and a max-pool, which would shrink a 48-pixel face
to 12 pixels before the first block; here the stem keeps 48 and the stages go 48-24-12-6.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from training.models import register_model
from training.models.blocks import conv_bn


def _basic_block(x, filters: int, stride: int, regularizer, name: str):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, kernel_regularizer=regularizer, name=f"{name}_down"
        )(x)
        shortcut = layers.BatchNormalization(name=f"{name}_down_bn")(shortcut)
    y = conv_bn(x, filters, stride, regularizer, f"{name}_a")
    y = conv_bn(y, filters, 1, regularizer, f"{name}_b", relu=False)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_resnet(
    widths: Sequence[int],
    blocks: Sequence[int],
    num_classes: int,
    input_size: int,
    dropout: float = 0.3,
    l2: float = 0.0,
    stem_stride: int = 1,
    name: str = "resnet",
) -> keras.Model:
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = conv_bn(inputs, widths[0], stem_stride, regularizer, "stem")
    for stage, (filters, count) in enumerate(zip(widths, blocks, strict=True), start=1):
        for block in range(count):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _basic_block(x, filters, stride, regularizer, f"stage{stage}_{block + 1}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model
def resnet18_fer(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """ResNet-18 layout (2-2-2-2 basic blocks), widths 32-64-128-256: ~2.8 M parameters."""
    return build_resnet(
        (32, 64, 128, 256), (2, 2, 2, 2), num_classes, input_size, name="resnet18_fer", **kwargs
    )


@register_model
def resnet18_fer_s2(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """resnet18_fer with a stride-2 stem (stages 24-12-6-3): about a quarter of the MACs."""
    return build_resnet(
        (32, 64, 128, 256),
        (2, 2, 2, 2),
        num_classes,
        input_size,
        stem_stride=2,
        name="resnet18_fer_s2",
        **kwargs,
    )
