"""VGG-style CNNs for 48x48 faces: stacks of 3x3 conv + BatchNorm + ReLU, max-pooled.

The VGG pattern is what the FER2013 literature reaches 63-73 % with from scratch (Khaireddin &
Chen 2021); the compact variant is sized for a 2-core laptop CPU: about 1.8 M parameters and
about 0.12 GMAC a face.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from training.models import register_model
from training.models.blocks import conv_bn


def _conv_bn_relu(x, filters: int, weight_decay: float, name: str, strides: int = 1, separable: bool = False):
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None
    if separable:
        # Depthwise 3x3 then pointwise 1x1: about 8x fewer MACs than a dense 3x3 at these widths.
        x = layers.SeparableConv2D(
            filters,
            3,
            strides=strides,
            padding="same",
            use_bias=False,
            depthwise_initializer="he_normal",
            pointwise_initializer="he_normal",
            pointwise_regularizer=regularizer,
            name=f"{name}_sepconv",
        )(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.Activation("relu", name=f"{name}_relu")(x)
    return conv_bn(x, filters, strides, regularizer, name)


def build_vgg(
    widths: Sequence[int],
    convs_per_block: int | Sequence[int],
    dense_units: int,
    num_classes: int,
    input_size: int,
    dropout: float = 0.4,
    block_dropout: float = 0.1,
    weight_decay: float = 0.0,
    name: str = "vgg",
    l2: float = 0.0,
    stem_stride: int = 1,
    separable_from_block: int = 0,
) -> keras.Model:
    """Stack VGG blocks; the two switches are the cheaper-layer ablation's (issue 12).

    ``stem_stride=2`` makes the first block's single conv stride 2 and drops that block's pool, so
    nothing runs at the full 48x48 resolution (where the activations, BatchNorm and ReLU cost memory
    bandwidth out of proportion to their MACs on a CPU). ``separable_from_block=N`` makes every conv
    of block N and later depthwise-separable.
    """
    weight_decay = weight_decay or l2
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    if isinstance(convs_per_block, int):
        convs_per_block = [convs_per_block] * len(widths)
    for block, (filters, convs) in enumerate(zip(widths, convs_per_block, strict=True), start=1):
        strided_stem = block == 1 and stem_stride > 1
        separable = 0 < separable_from_block <= block
        for conv in range(1, convs + 1):
            strides = stem_stride if strided_stem and conv == 1 else 1
            x = _conv_bn_relu(x, filters, weight_decay, f"block{block}_{conv}", strides, separable)
        if not strided_stem:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        if block_dropout:
            x = layers.Dropout(block_dropout, name=f"block{block}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(
        dense_units,
        use_bias=False,
        kernel_regularizer=keras.regularizers.L2(weight_decay) if weight_decay else None,
        name="fc",
    )(x)
    x = layers.BatchNormalization(name="fc_bn")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    x = layers.Dropout(dropout, name="fc_drop")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def _compact_layout(num_classes: int, input_size: int, name: str, **kwargs) -> keras.Model:
    """vgg_compact's widths and depths; its variants differ only in the switches they pass."""
    return build_vgg((24, 48, 96, 192), (1, 2, 2, 2), 256, num_classes, input_size, name=name, **kwargs)


@register_model
def vgg_compact(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """The shipped default: 24-48-96-192 (1, 2, 2, 2 convs), dense 256: ~1.1 M parameters.

    One conv at full resolution (where a conv costs the most) and two at each smaller scale: about
    55 MMAC a face, which trains at ~150 faces/s on a 2-core laptop CPU.
    """
    return _compact_layout(num_classes, input_size, "vgg_compact", **kwargs)


@register_model
def vgg_compact_s2(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """vgg_compact with a stride-2 stem: the first conv computes 24x24 outputs directly.

    The same parameters and almost the same MACs (the 48x48 conv was only 0.5 MMAC), but no
    48x48x24 activation, BatchNorm or pool in the forward and backward pass: the ablation of what a
    CPU epoch pays for full-resolution memory traffic.
    """
    return _compact_layout(num_classes, input_size, "vgg_compact_s2", stem_stride=2, **kwargs)


@register_model
def vgg_compact_sep(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """vgg_compact with depthwise-separable convs from block 2 on: ~7 MMAC a face instead of 55.

    Block 1 stays a dense conv (a one-channel input has nothing to separate).
    """
    return _compact_layout(num_classes, input_size, "vgg_compact_sep", separable_from_block=2, **kwargs)


@register_model
def vgg_medium(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """vgg_compact a third wider, 32-64-128-256 (1, 2, 2, 2 convs), dense 256: ~1.76 M parameters.

    About 98 MMAC a face (1.8x vgg_compact) but only 1.4x slower to train under TensorFlow here
    (196 vs 281 faces/s bare): the long-schedule candidate for the >= 70 % default.
    """
    return build_vgg(
        (32, 64, 128, 256), (1, 2, 2, 2), 256, num_classes, input_size, name="vgg_medium", **kwargs
    )


@register_model
def vgg_wide(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """A wider variant, 64-128-256-512 x2 convs, dense 512 (~7 M parameters), for a GPU."""
    return build_vgg((64, 128, 256, 512), 2, 512, num_classes, input_size, name="vgg_wide", **kwargs)
