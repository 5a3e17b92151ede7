"""EfficientNet-Lite for 48x48 faces: EfficientNet-B0's MBConv stages as the Lite variants run them.

EfficientNet-Lite is the edge version of EfficientNet (the TensorFlow Model Garden's
``efficientnet-lite0``): the same stages, without squeeze-and-excite (poorly supported by mobile
accelerators), ReLU6 instead of swish (quantisation-friendly), and a stem and head that do not
scale. That makes it the EfficientNet a LiteRT app can run, which is why the studies' "MobileNet /
EfficientNet-lite style backbones" row includes it.

A face is 48x48, not 224x224. ``efficientnet_lite0_fer`` keeps Lite0's widths, depths and kernels
but drops one of its five stride-2 steps (stage 2 runs at stride 1), so the stages see 24-24-24-12-
6-6-3 feature maps: the sizes Lite0 has on a 96x96 input, where 3x3 faces at the last stage still
leave the 5x5 kernels something to look at.
"""

from __future__ import annotations

import keras
from keras import layers

from training.models import register_model
from training.models.blocks import inverted_residual, pooled_head

#: Lite0's stages: (expansion, filters, repeats, first stride, kernel); stage 2's stride is 1 here.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 1, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


@register_model
def efficientnet_lite0_fer(
    num_classes: int = 7,
    input_size: int = 48,
    dropout: float = 0.2,
    l2: float = 0.0,
    head: int = 1280,
    **kwargs,
) -> keras.Model:
    """EfficientNet-Lite0 at 48x48 gray: stem 32 (stride 2), Lite0's seven MBConv stages, head 1280."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Conv2D(
        32, 3, strides=2, padding="same", use_bias=False, kernel_regularizer=regularizer, name="stem_conv"
    )(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    for stage, (expansion, filters, repeats, stride, kernel) in enumerate(LITE0_STAGES, start=1):
        for repeat in range(repeats):
            x = inverted_residual(
                x,
                expansion,
                filters,
                stride if repeat == 0 else 1,
                regularizer,
                f"stage{stage}_{repeat + 1}",
                kernel=kernel,
                expand=expansion != 1,
            )
    outputs = pooled_head(x, head, num_classes, dropout, regularizer)
    return keras.Model(inputs, outputs, name="efficientnet_lite0_fer")
