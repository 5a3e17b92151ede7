"""Small plain CNNs: a quick one for tests and smoke runs, and the studies' baseline CNN."""

from __future__ import annotations

import keras
from keras import layers

from training.models import register_model


@register_model
def tiny_cnn(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """A few thousand parameters; trains an epoch on a hundred faces in a second (tests)."""
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(4)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@register_model
def baseline_cnn(num_classes: int = 7, input_size: int = 48, dropout: float = 0.5, **kwargs) -> keras.Model:
    """The studies' baseline CNN (conv 32-64-128, dense 128; ~56 % in the reports)."""
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="baseline_cnn")
