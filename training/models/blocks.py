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


def inverted_residual(
    x, expansion: int, filters: int, stride: int, regularizer, name: str, kernel: int = 3, expand: bool = True
):
    """MobileNetV2's block (EfficientNet-Lite's MBConv: no squeeze-excite, ReLU6): 1x1 expand,
    ``kernel`` depthwise, linear 1x1 project, and the identity added back when shapes allow.

    ``expand=False`` leaves out the 1x1 expansion (EfficientNet's expansion-1 blocks);
    ``mobilenet_v2_fer`` keeps it everywhere, as its reported checkpoints were built."""
    channels = x.shape[-1]
    y = x
    if expand:
        y = layers.Conv2D(
            channels * expansion, 1, use_bias=False, kernel_regularizer=regularizer, name=f"{name}_expand"
        )(y)
        y = layers.BatchNormalization(name=f"{name}_expand_bn")(y)
        y = layers.ReLU(6.0, name=f"{name}_expand_relu")(y)
    y = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(y)
    y = layers.BatchNormalization(name=f"{name}_dw_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
    y = layers.Conv2D(filters, 1, use_bias=False, kernel_regularizer=regularizer, name=f"{name}_project")(y)
    y = layers.BatchNormalization(name=f"{name}_project_bn")(y)
    if stride == 1 and channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def pooled_head(x, head: int, num_classes: int, dropout: float, regularizer):
    """MobileNetV2 / EfficientNet-Lite's classifier: 1x1 conv to ``head`` channels + BN + ReLU6,
    global average pool, dropout, softmax (layers ``head_conv`` … ``probabilities``)."""
    x = layers.Conv2D(head, 1, use_bias=False, kernel_regularizer=regularizer, name="head_conv")(x)
    x = layers.BatchNormalization(name="head_bn")(x)
    x = layers.ReLU(6.0, name="head_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
