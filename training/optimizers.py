"""The optimizers the studies compared (SGD with Nesterov momentum, Adam, RMSprop, AdamW), and
discriminative learning rates: the pretrained body learns ``body_lr_multiplier`` times slower
than the head, so fine-tuning adapts the new classifier without wrecking transferred features.

Keras has no per-layer learning rate, so the multiplier is applied where each variable is updated
(``update_step``). That hook is what the TensorFlow and JAX backends call; PyTorch's fused
optimizers bypass it, so a multiplier other than 1 is refused there with a message.
"""

from __future__ import annotations

import keras

OPTIMIZERS = ("adamw", "sgd", "adam", "rmsprop")
#: Layers that belong to the classifier head (always at the full learning rate, never frozen).
HEAD_PREFIXES = ("probabilities", "head", "fc")


def is_head(name: str) -> bool:
    return name.startswith(HEAD_PREFIXES)


def _layerwise(base: type) -> type:
    class Layerwise(base):
        def __init__(self, *args, body_lr_multiplier: float = 1.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.body_lr_multiplier = float(body_lr_multiplier)
            self._multipliers: list[float] = []

        def build(self, var_list):
            super().build(var_list)
            # A variable's path starts with its top-level layer's name: "fc/kernel", "backbone/...".
            self._multipliers = [
                1.0 if is_head(variable.path.split("/")[0]) else self.body_lr_multiplier
                for variable in var_list
            ]

        def update_step(self, gradient, variable, learning_rate):
            multiplier = self._multipliers[self._get_variable_index(variable)]
            return super().update_step(gradient, variable, learning_rate * multiplier)

        def get_config(self):
            return {**super().get_config(), "body_lr_multiplier": self.body_lr_multiplier}

    Layerwise.__name__ = Layerwise.__qualname__ = f"Layerwise{base.__name__}"
    return keras.saving.register_keras_serializable(package="ferdesk")(Layerwise)


LAYERWISE = {
    "adamw": _layerwise(keras.optimizers.AdamW),
    "sgd": _layerwise(keras.optimizers.SGD),
    "adam": _layerwise(keras.optimizers.Adam),
    "rmsprop": _layerwise(keras.optimizers.RMSprop),
}
PLAIN = {
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
}


def make_optimizer(
    name: str,
    learning_rate,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    body_lr_multiplier: float = 1.0,
    ema_momentum: float = 0.0,
) -> keras.optimizers.Optimizer:
    """One of :data:`OPTIMIZERS`. Weight decay is decoupled for AdamW (and SGD, as Keras does);
    for Adam and RMSprop use the models' ``l2`` penalty instead, as the studies did.
    ``ema_momentum`` > 0 keeps an exponential moving average of the weights (Keras' ``use_ema``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}.")
    if body_lr_multiplier != 1.0 and keras.backend.backend() == "torch":
        raise ValueError(
            "Discriminative learning rates (--body-lr-multiplier) need the TensorFlow or JAX backend; "
            "PyTorch's fused optimizers skip the per-variable hook. Run with KERAS_BACKEND=tensorflow."
        )
    kwargs: dict = {"learning_rate": learning_rate}
    if ema_momentum:
        kwargs.update(use_ema=True, ema_momentum=ema_momentum)
    if name in ("adamw", "sgd"):
        kwargs["weight_decay"] = weight_decay or None
    if name == "sgd":
        kwargs.update(momentum=momentum, nesterov=True)
    if name == "rmsprop":
        kwargs["momentum"] = 0.0
    if body_lr_multiplier != 1.0:
        optimizer = LAYERWISE[name](body_lr_multiplier=body_lr_multiplier, **kwargs)
    else:
        optimizer = PLAIN[name](**kwargs)
    if kwargs.get("weight_decay"):
        optimizer.exclude_from_weight_decay(var_names=["bn", "bias", "gamma", "beta"])
    return optimizer
