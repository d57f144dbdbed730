"""Analysis commands: `transfer` (Fashion-MNIST -> CIFAR-10) and `permute` (pixel permutation, MLP vs CNN)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sweeplab.commands import add_set_argument, add_storage_argument, parse_overrides
from sweeplab.errors import UserError

# CPU defaults: every evaluation small enough that the whole command takes minutes on 2 cores.
# `--full` drops them (the study files' own epochs/subset apply); `--set` always wins.
# The two CNN keys are outside the searched spaces: they slim Géron's stem and stop filters doubling per block.
QUICK_OVERRIDES: dict[str, Any] = {"epochs": 2, "subset": 1000, "test_subset": 500, "stem_kernel_size": 3,
                                   "filter_growth": 1.0}
QUICK_CONFIGS, FULL_CONFIGS = 6, 40


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per evaluation (default 3, min 2)")
    parser.add_argument("--metric", default="test/accuracy", help="metric compared (default test/accuracy)")
    parser.add_argument("--full", action="store_true",
                        help=f"drop the CPU defaults {QUICK_OVERRIDES} (use the study files' epochs/subset)")
    parser.add_argument("--out", default=None, help="output folder (default: RUNS/analysis)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples per interval")
    add_storage_argument(parser)
    add_set_argument(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    transfer = subparsers.add_parser("transfer", help="which hyperparameter settings carry over from Fashion-MNIST "
                                                      "to CIFAR-10 (rank correlations, regret, importances)")
    transfer.add_argument("--configs", type=int, default=None,
                          help=f"configurations per family (default {QUICK_CONFIGS}; {FULL_CONFIGS} with --full; "
                               "use >= 30 for conclusions)")
    transfer.add_argument("--families", default="mlp,cnn", help="comma-separated model families (mlp, cnn)")
    transfer.add_argument("--top-k", type=int, default=3, help="top-k for the overlap statistic (default 3)")
    _common(transfer)
    transfer.set_defaults(handler=transfer_command)

    permute = subparsers.add_parser("permute", help="MLP vs CNN on pixel-permuted MNIST / Fashion-MNIST")
    permute.add_argument("--datasets", default="mnist,fashion_mnist", help="comma-separated datasets")
    permute.add_argument("--families", default="mlp,cnn", help="comma-separated model families (mlp, cnn)")
    permute.add_argument("--permutation-seed", type=int, default=0, help="seed of the one fixed pixel permutation")
    _common(permute)
    permute.set_defaults(handler=permute_command)


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], Path, list[int]]:
    """Overrides (CPU defaults < --set), output folder, seeds; refuses bad values before anything trains."""
    from sweeps.storage import runs_dir
    from trainers import get_task, resolve_config

    if args.seeds < 2:
        raise UserError(f"--seeds must be >= 2 (intervals need spread), got {args.seeds}")
    if args.bootstrap < 100:
        raise UserError(f"--bootstrap must be >= 100, got {args.bootstrap}")
    overrides = {**({} if args.full else QUICK_OVERRIDES), **parse_overrides(args.overrides)}
    for key in ("seed", "dataset", "permute_pixels", "permutation_seed"):
        if key in overrides:
            raise UserError(f"--set {key}=...: set by the analysis itself; use --seeds / --permutation-seed")
    resolve_config(get_task("classify"), overrides)  # unknown keys and wrong types fail here, naming the key
    if not args.metric.startswith(("val/", "test/")):
        raise UserError(f"--metric: expected val/... or test/..., got {args.metric!r}")
    out = Path(args.out) if args.out else runs_dir() / "analysis"
    return overrides, out, list(range(args.seeds))


def _families(text: str, known: dict[str, Any]) -> list[str]:
    families = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in families if name not in known]
    if unknown or not families:
        raise UserError(f"--families: expected a comma-separated subset of {', '.join(known)}, got {text!r}")
    return families


def transfer_command(args: argparse.Namespace) -> int:
    from analysis.evaluations import EvaluationStore
    from analysis.transfer import FAMILIES, evaluate_family, write_outputs

    overrides, out, seeds = _settings(args)
    families = _families(args.families, FAMILIES)
    configs = args.configs or (FULL_CONFIGS if args.full else QUICK_CONFIGS)
    if configs < 3 or args.top_k < 1:
        raise UserError(f"--configs must be >= 3 and --top-k >= 1, got {configs} and {args.top_k}")
    store = EvaluationStore(out / "evaluations.jsonl")
    started, infos = time.perf_counter(), []
    print(f"transfer: {configs} configs x {len(seeds)} seeds x 2 datasets per family, overrides {overrides}",
          file=sys.stderr)
    for family in families:
        try:
            info = evaluate_family(family, store, configs, seeds, args.top_k, args.metric, overrides, args.storage,
                                   args.bootstrap)
        except ValueError as error:  # e.g. a study with too few usable trials
            raise UserError(str(error)) from error
        infos.append(info)
        print(f"\n{family.upper()} ({len(info.configs)} configs, seeds {list(info.seeds)}, {info.metric}): "
              f"Spearman {info.spearman.format()}  Kendall {info.kendall.format()}  "
              f"top-{info.top_k} overlap {info.top_k_overlap:.2f}  regret {info.regret:+.4f}")
        for note in info.notes:
            print(f"  note: {note}")
        if not info.settings.empty:
            shown = info.settings[["setting", "configs", "Fashion-MNIST effect", "CIFAR-10 effect", "verdict"]]
            print(shown.head(8).to_string(index=False, float_format=lambda value: f"{value:+.3f}"))
    paths = write_outputs(infos, out)
    print(f"\n{store.computed} evaluations trained, {len(store) } stored in {store.path}; "
          f"{time.perf_counter() - started:.0f} s")
    print("wrote " + ", ".join(str(path) for path in paths))
    return 0


def permute_command(args: argparse.Namespace) -> int:
    import datasets
    from analysis.evaluations import EvaluationStore
    from analysis.permutation import MODELS, evaluate_permutation, summary_lines, write_outputs

    overrides, out, seeds = _settings(args)
    families = _families(args.families, MODELS)
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in names if name not in datasets.dataset_names()]
    if unknown or not names:
        known = ", ".join(datasets.dataset_names())
        raise UserError(f"--datasets: unknown {unknown or args.datasets!r}; known: {known}")
    store = EvaluationStore(out / "evaluations.jsonl")
    started = time.perf_counter()
    info = evaluate_permutation(store, seeds, names, families, args.permutation_seed, args.metric, overrides,
                                args.storage, args.bootstrap)
    for note in info.notes:
        print(f"config: {note}")
    print(f"permutation seed {info.permutation_seed}; {info.metric}; permuted - original, paired by seed, 95% t CI")
    print("\n".join(summary_lines(info)))
    paths = write_outputs(info, out)
    print(f"{store.computed} evaluations trained, {len(store)} stored in {store.path}; "
          f"{time.perf_counter() - started:.0f} s")
    print("wrote " + ", ".join(str(path) for path in paths))
    return 0
