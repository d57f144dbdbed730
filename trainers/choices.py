"""Names a config may give for Keras activations and initialisers: a closed list, so a typo is refused when the config
resolves (one line naming the key and the allowed names), not by Keras after the data has loaded."""

from __future__ import annotations

from typing import Literal

Activation = Literal["relu", "elu", "selu", "gelu", "swish", "silu", "tanh", "sigmoid", "leaky_relu", "softplus",
                     "mish", "relu6", "hard_swish", "linear"]
Initializer = Literal["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
                      "orthogonal", "random_normal", "random_uniform", "truncated_normal"]
