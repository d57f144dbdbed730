"""The classifier presets as plain data (no framework import): the references' architectures and optimisers."""

from __future__ import annotations

from typing import Any

MODEL_FAMILIES: dict[str, str] = {"geron_mlp": "mlp", "geron_cnn": "cnn", "keras_mlp": "mlp", "keras_cnn": "cnn",
                                  "cpu_mlp": "mlp", "cpu_cnn": "cnn"}

# name -> preset values. Presets reproduce the references; any value can still be overridden.
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # Géron, Hands-On ML ch. 10: Flatten-300-100-10.
    "geron_mlp": {"dense_layers": 2, "dense_units": 300, "dense_shrink": 1 / 3, "dense_dropout": 0.0,
                  "optimizer": "sgd", "learning_rate": 0.01},
    # Géron ch. 14: 64@7x7, pool, 2x128@3x3, pool, 2x256@3x3, pool, Dense 128, Dropout .5, Dense 64, Dropout .5.
    "geron_cnn": {"conv_filters": 64, "stem_kernel_size": 7, "stem_pool": True, "conv_blocks": 2,
                  "convs_per_block": 2, "filter_growth": 2.0, "kernel_size": 3, "padding": "same",
                  "pooling": "max", "dense_layers": 2, "dense_units": 128, "dense_shrink": 0.5,
                  "dense_dropout": 0.5, "optimizer": "nadam", "learning_rate": 1e-3},
    # keras-team/keras examples/mnist_mlp.py: 512-512 relu with dropout .2, RMSprop, batch 128, 20 epochs.
    "keras_mlp": {"dense_layers": 2, "dense_units": 512, "dense_shrink": 1.0, "dense_dropout": 0.2,
                  "optimizer": "rmsprop", "learning_rate": 1e-3, "batch_size": 128, "epochs": 20},
    # keras-team/keras examples/mnist_cnn.py: 32@3x3, 64@3x3, pool, dropout .25, Dense 128, dropout .5; Adadelta lr 1.
    "keras_cnn": {"conv_filters": 32, "stem_kernel_size": 3, "stem_pool": False, "conv_blocks": 1,
                  "convs_per_block": 1, "filter_growth": 2.0, "kernel_size": 3, "padding": "valid",
                  "pooling": "max", "conv_dropout": 0.25, "dense_layers": 1, "dense_units": 128,
                  "dense_dropout": 0.5, "optimizer": "adadelta", "learning_rate": 1.0, "rho": 0.95,
                  "batch_size": 128, "epochs": 12},
    # Sized for a 2-core CPU by measurement (benchmarks/results/peer_search-*.json): on all 54,000 Fashion-MNIST
    # training images, 12 epochs of this CNN (~25 s each) reach 92.5% test; 30 epochs of this MLP (~2 s each) 89.8%.
    # Batch norm with momentum 0.9 (short runs), Adam at a peak 3e-3 (2e-3) with a cosine decay over the epochs.
    "cpu_cnn": {"conv_filters": 32, "stem_kernel_size": 3, "stem_pool": True, "conv_blocks": 1, "convs_per_block": 1,
                "filter_growth": 2.0, "kernel_size": 3, "padding": "same", "pooling": "max", "dense_layers": 1,
                "dense_units": 128, "dense_dropout": 0.3, "batch_norm": True, "optimizer": "adam",
                "learning_rate": 3e-3, "lr_schedule": "cosine", "warmup_epochs": 0.2, "batch_size": 256},
    "cpu_mlp": {"dense_layers": 2, "dense_units": 512, "dense_shrink": 1.0, "dense_dropout": 0.3,
                "kernel_initializer": "he_normal", "optimizer": "adam", "learning_rate": 2e-3, "lr_schedule": "cosine",
                "warmup_epochs": 0.2, "batch_size": 256},
}
