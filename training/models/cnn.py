"""Small plain CNNs: a quick one for tests and smoke runs, and the studies' baseline CNN."""

from __future__ import annotations

import keras
from keras import layers

from training.models import register_model


@register_model
def tiny_cnn(num_classes: int = 7, input_size: int = 48, **kwargs) -> keras.Model:
    """A few thousand parameters; trains an epoch on a hundred faces in a second (tests)."""
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(4, name="pool1")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@register_model
def baseline_cnn(
    num_classes: int = 7, input_size: int = 48, dropout: float = 0.5, l2: float = 0.0, **kwargs
) -> keras.Model:
    """The studies' baseline CNN (conv 32-64-128, dense 128; ~56 % in the reports)."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_regularizer=regularizer)(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", kernel_regularizer=regularizer)(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="baseline_cnn")


@register_model
def deepfer_cnn(
    num_classes: int = 7, input_size: int = 48, dropout: float = 0.5, l2: float = 0.0, **kwargs
) -> keras.Model:
    """The DeepFER study's CNN: conv 32-64-128-128-256-256 (BatchNorm + ReLU, pooled every two
    convs), dense 256 with dropout (~60 % in the study)."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    for index, filters in enumerate((32, 64, 128, 128, 256, 256), start=1):
        x = layers.Conv2D(
            filters, 3, padding="same", use_bias=False, kernel_regularizer=regularizer, name=f"conv{index}"
        )(x)
        x = layers.BatchNormalization(name=f"conv{index}_bn")(x)
        x = layers.Activation("relu", name=f"conv{index}_relu")(x)
        if index % 2 == 0:
            x = layers.MaxPooling2D(2, name=f"pool{index // 2}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", kernel_regularizer=regularizer, name="fc")(x)
    x = layers.Dropout(dropout, name="fc_drop")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="deepfer_cnn")
