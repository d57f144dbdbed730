"""Which change stops the Olivetti faces GAN from collapsing, at about its CPU budget? Each candidate is the
generative finding's `gan-faces` model (analysis/findings/generative_store.py) with a few config values changed,
trained into the finding's own store (so the winner, once it is the default, is not trained twice), and scored as
the finding scores it: the Fréchet distance of its 200 samples to real half A in the finding's feature space, and
the samples' diversity (mean pairwise distance of their features) beside the same measure on real half B.

    nice -n 5 .venv/bin/python -m benchmarks.generative_faces            # every candidate not yet done
    .venv/bin/python -m benchmarks.generative_faces --table              # print what is recorded

Each candidate's numbers land in benchmarks/results/generative_faces.parts/<name>.json (reruns skip it), and a
sample grid in generative_faces-<name>.png; the parts are combined into generative_faces-<backend>-<device>.json.
Recognisability does not apply: the faces have no class a generated face should belong to.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = RESULTS / "generative_faces.parts"
# Measured in this order; `dropout` (and the committed model, Fréchet 80.3) with the discriminator as it was
# before minibatch stddev was added to it, the others with it (each part names its discriminator).
CANDIDATES: dict[str, dict] = {
    "dropout": {"discriminator_dropout": 0.3},  # noise in D: 324 faces are easy to memorise
    "minibatch-stddev": {},  # the committed knobs; D sees the batch's spread (the gan-faces default)
    "minibatch-stddev-ttur": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 4e-4},  # two rates
    "minibatch-stddev-dropout": {"discriminator_dropout": 0.3},  # the two that helped most, together
    "minibatch-stddev-ttur-dropout": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 4e-4,
                                      "discriminator_dropout": 0.3},
    # the default (above) with samples from a moving average of G's weights (1,650 steps: decay 0.99)
    "minibatch-stddev-ttur-dropout-ema": {"generator_learning_rate": 1e-4, "discriminator_learning_rate": 4e-4,
                                          "discriminator_dropout": 0.3, "generator_ema": 0.99},
}
DEFAULT = "minibatch-stddev-ttur-dropout"  # the finding's gan-faces knobs (training seed 0)
# the default again with other training seeds: is its Fréchet below the faces VAE's samples' on more than one seed?
# Repeats, not candidates: they do not take part in picking the winner
REPEATS: dict[str, dict] = {f"{DEFAULT}-seed{seed}": {**CANDIDATES[DEFAULT], "seed": seed} for seed in (1, 2)}
CANDIDATES.update(REPEATS)
DISCRIMINATOR = "DCGAN + minibatch stddev"


def measure(name: str, overrides: dict, store: Path) -> dict:
    """Train (or read from the store) one candidate and score its samples as the finding does."""

    from analysis.findings.generative import FEATURE_TRAIN_IMAGES, FRECHET_SAMPLES
    from analysis.findings.generative_store import held_out_halves, trained_candidate
    from datasets.images import save_png
    from trainers.generative.figures import grid
    from trainers.generative.quality import FrechetScorer, feature_extractor, mean_pairwise_distance

    halves = held_out_halves("olivetti", FRECHET_SAMPLES["olivetti"])
    candidate = trained_candidate("gan-faces", overrides, store, halves)
    outputs, record = candidate.outputs, candidate.record
    scorer = FrechetScorer(feature_extractor("olivetti", tuple(halves[0].shape[1:]), FEATURE_TRAIN_IMAGES), halves[0])
    save_png(RESULTS / f"generative_faces-{name}.png", grid(outputs["grid_samples"][:32], 8))
    return {"candidate": name, "discriminator": DISCRIMINATOR, "overrides": overrides,
            "config": candidate.spec.config, "store_dir": candidate.directory.name,
            "trained_now": candidate.trained_now, "frechet_distance": round(scorer.distance(outputs["samples"]), 2),
            "real_half_b_frechet": round(scorer.distance(halves[1]), 2),
            "diversity": round(mean_pairwise_distance(scorer.features(outputs["samples"])), 3),
            "real_diversity": round(mean_pairwise_distance(scorer.features(halves[1])), 3),
            "train_cpu_seconds": record["cpu_seconds"], "train_wall_seconds": record["wall_seconds"],
            "load_average_at_end": round(record["load_average"], 2),
            "samples_png": f"generative_faces-{name}.png"}


def combine() -> Path:
    from benchmarks.machine import write_result

    parts = {path.stem: json.loads(path.read_text()) for path in sorted(PARTS.glob("*.json"))}
    rows = [parts[name] for name in CANDIDATES if name in parts]
    # not collapsed: samples at least half as spread as real faces; and trained with today's discriminator
    eligible = [row for row in rows if row.get("discriminator") == DISCRIMINATOR and row["candidate"] not in REPEATS
                and row["diversity"] >= 0.5 * row["real_diversity"]]
    winner = min(eligible, key=lambda row: row["frechet_distance"])["candidate"] if eligible else None
    return write_result("generative_faces", {
        "command": "nice -n 5 .venv/bin/python -m benchmarks.generative_faces",
        "note": "Fréchet in the generative finding's olivetti feature space (64-unit layer of its small CNN), 200 "
                "samples against real half A; diversity = mean pairwise feature distance of the samples (real "
                "half B beside it); recognisability n/a for faces. CPU seconds are the training process's.",
        "winner": winner, "winner_rule": "lowest Fréchet among candidates with today's discriminator whose diversity "
                                        "is at least half the real faces' (the default's other seeds excluded)",
        "default_by_seed": {row["config"].get("seed", 0): {"frechet_distance": row["frechet_distance"],
                                                          "diversity": row["diversity"]}
                            for row in rows if row["candidate"] == DEFAULT or row["candidate"] in REPEATS},
        "candidates": rows})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"candidates (default: all of {', '.join(CANDIDATES)})")
    parser.add_argument("--table", action="store_true", help="only combine the parts and print them")
    parser.add_argument("--store", default=None, help="the finding's store (default: RUNS/results)")
    args = parser.parse_args(argv)
    if not args.table:
        from benchmarks.machine import comma_list, measured_parts
        from sweeps.storage import runs_dir

        store = Path(args.store) if args.store else runs_dir() / "results"
        names = comma_list(parser, ",".join(args.names), CANDIDATES, "candidate") if args.names else list(CANDIDATES)
        measured_parts(PARTS, names, [0], lambda name, seed: f"{name}.json",
                       lambda name, seed: measure(name, CANDIDATES[name], store / "generative"),
                       lambda name, seed, row: f"{name}: Fréchet {row['frechet_distance']}, diversity "
                                               f"{row['diversity']} (real {row['real_diversity']}), "
                                               f"{row['train_cpu_seconds']} CPU s")
    path = combine()
    for row in json.loads(path.read_text())["candidates"]:
        print(f"{row['candidate']:14s} Fréchet {row['frechet_distance']:7.2f}  diversity {row['diversity']:.3f} "
              f"(real {row['real_diversity']:.3f})  {row['train_cpu_seconds']} CPU s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
