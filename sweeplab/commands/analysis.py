"""`sweeplab transfer` and `sweeplab permute`: the findings `transfer` and `permutation` by their old names."""

from __future__ import annotations

import argparse

from sweeplab.commands.results import finding_alias


def register(subparsers: argparse._SubParsersAction) -> None:
    finding_alias(subparsers, "transfer", "transfer", "which hyperparameter settings carry over from Fashion-MNIST to "
                                                      "CIFAR-10")
    finding_alias(subparsers, "permute", "permutation", "MLP vs CNN on pixel-permuted MNIST / Fashion-MNIST")
