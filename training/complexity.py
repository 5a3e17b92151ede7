"""Parameters and multiply-accumulates (MACs) per face of a Keras network, counted from its layers.

Counts the layers that dominate cost — Conv2D, DepthwiseConv2D, SeparableConv2D and Dense
(nested backbones included); BatchNorm, activations and pooling are left out (a few percent).
"""

from __future__ import annotations

import math

import keras


def _spatial(shape) -> int:
    return math.prod(int(d) for d in shape[1:-1]) if len(shape) > 2 else 1


def macs_per_face(model: keras.Model) -> int:
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += macs_per_face(layer)
            continue
        if not layer.weights:
            continue
        kernel = layer.weights[0]
        out_shape = layer.output.shape
        if isinstance(layer, keras.layers.SeparableConv2D):
            depthwise, pointwise = layer.weights[0], layer.weights[1]
            total += _spatial(out_shape) * (math.prod(depthwise.shape) + math.prod(pointwise.shape))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            total += _spatial(out_shape) * math.prod(kernel.shape)
    return int(total)


def describe(model: keras.Model) -> dict:
    return {"parameters": int(model.count_params()), "macs_per_face": macs_per_face(model)}
