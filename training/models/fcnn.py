"""A fully connected baseline (the studies' FCNN, ~45 %): what a network without convolutions gets."""

from __future__ import annotations

import keras
from keras import layers

from training.models import register_model


@register_model
def fcnn(num_classes: int = 7, input_size: int = 48, dropout: float = 0.4, l2: float = 0.0, **kwargs):
    """Flatten the 48x48 face, dense 512-256 with BatchNorm + ReLU + dropout (~1.3 M parameters)."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Flatten(name="flatten")(inputs)
    for index, units in enumerate((512, 256), start=1):
        x = layers.Dense(units, use_bias=False, kernel_regularizer=regularizer, name=f"fc{index}")(x)
        x = layers.BatchNormalization(name=f"fc{index}_bn")(x)
        x = layers.Activation("relu", name=f"fc{index}_relu")(x)
        x = layers.Dropout(dropout, name=f"fc{index}_drop")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="fcnn")
