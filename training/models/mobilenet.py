"""MobileNet-style networks: depthwise-separable inverted residuals (MobileNetV2 blocks).

``mobilenet_v2_fer`` is native to 48x48 gray faces (stride-1 stem, three stride-2 stages), the
cheap-layer candidate for the live default. ``mobilenet_v3_small_96`` is Keras's own
MobileNetV3-Small backbone at the 96x96 RGB input it is designed for (the face is upscaled and
its gray channel repeated inside the model), so weights in its own format can be loaded with
``--init-weights``.
"""

from __future__ import annotations

import keras
from keras import layers

from training.models import register_model
from training.models.blocks import inverted_residual, pooled_head
from training.models.transfer import backbone_classifier


@register_model
def mobilenet_v2_fer(
    num_classes: int = 7, input_size: int = 48, dropout: float = 0.3, l2: float = 0.0, **kwargs
) -> keras.Model:
    """MobileNetV2 blocks sized for 48x48: stem 32, stages 24-32-64-96-160 (48-24-12-12-6), head 640."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Conv2D(
        32, 3, padding="same", use_bias=False, kernel_regularizer=regularizer, name="stem_conv"
    )(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    # (expansion, filters, repeats, first stride)
    for stage, (expansion, filters, repeats, stride) in enumerate(
        ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 3, 1), (6, 96, 2, 2), (6, 160, 1, 1)), start=1
    ):
        for repeat in range(repeats):
            x = inverted_residual(
                x, expansion, filters, stride if repeat == 0 else 1, regularizer, f"stage{stage}_{repeat + 1}"
            )
    outputs = pooled_head(x, 640, num_classes, dropout, regularizer)
    return keras.Model(inputs, outputs, name="mobilenet_v2_fer")


@register_model
def mobilenet_v3_small_96(
    num_classes: int = 7, input_size: int = 48, dropout: float = 0.3, backbone_size: int = 96, **kwargs
) -> keras.Model:
    """Keras's MobileNetV3-Small (alpha 1.0, no top) at 96x96 RGB, on the upscaled gray face."""
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(backbone_size, backbone_size, 3),
        include_top=False,
        weights=None,
        include_preprocessing=True,
        pooling="avg",
    )
    # MobileNetV3's own preprocessing takes [0, 255] pixels.
    return backbone_classifier(
        backbone, num_classes, input_size, backbone_size, dropout, scale=255.0, name="mobilenet_v3_small_96"
    )
