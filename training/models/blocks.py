"""Layer blocks shared by the model families (one definition, so their checkpoints name layers alike)."""

from __future__ import annotations

from keras import layers


def conv_bn(x, filters: int, stride: int, regularizer, name: str, relu: bool = True):
    """3x3 conv (no bias, He init) + BatchNorm (+ ReLU): layers ``{name}_conv``, ``_bn``, ``_relu``."""
    x = layers.Conv2D(
        filters,
        3,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=regularizer,
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x
