"""Leave one style out: does the clock reader read a dial, hand or face style it never saw? Per style family, the
default study's model (sweeps/clock.yaml's fixed values, refit and first prior) is trained on clocks rendered
without it, then scored on a held-out set rendered with only it and on a held-out `default` set (the gap is
left-out minus seen); a model trained with nothing left out, at the same budget, reads every left-out set too.

    nice -n 5 .venv/bin/python -m benchmarks.clock_styles            # every family not yet done, then the table
    nice -n 5 .venv/bin/python -m benchmarks.clock_styles --families nothing --seed 1   # the baseline again
    .venv/bin/python -m benchmarks.clock_styles --table              # only combine the parts and print the table
    # a treatment: these values on top of the study's, parts in a subfolder named after them
    nice -n 5 .venv/bin/python -m benchmarks.clock_styles --families dark_face nothing --seed 1 --set augment_invert=.25
    # and trained on more dial designs (the `diverse` variation, less the family)
    nice -n 5 .venv/bin/python -m benchmarks.clock_styles --families dial:ticks --seed 1 --base diverse \
        --set augment_invert=.25
    # and with random glyphs as hour marks besides (the `randomised` variation: style randomisation)
    nice -n 5 .venv/bin/python -m benchmarks.clock_styles --families dial:arabic dial:roman nothing --seed 1 \
        --base randomised --set augment_invert=.25
    # at the default study's own budget (its n_images and refit minutes) on its own training mixture
    .venv/bin/python -m benchmarks.clock_styles --budget study --base default+wide --families dial:ticks

The study's values are read when a family runs: the untreated parts in clock_styles.parts/ were trained before the
study took `augment_invert: 0.25` (2026-12-06), so a family run now without --set trains as the
`augment_invert=0.25` treatment did. The budget is reduced (TRAIN_CLOCKS, TRAIN_MINUTES: not the study's n_images
and refit minutes) unless `--budget study`. Each family writes benchmarks/results/clock_styles.parts/<family>.json
as it lands (reruns skip it); the parts are combined into benchmarks/results/clock_styles-<backend>-<device>.json
and clock_styles.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from datasets.clocks.variation import DIAL_STYLES, HAND_STYLES, LEFT_OUT_WITH, Variation

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = RESULTS / "clock_styles.parts"
TRAIN_CLOCKS = 6000  # rendered training clocks per family (the study: its n_images), split 80:20 as it splits
TRAIN_MINUTES = 2.5  # the refit's cosine schedule planned to end within this much training (the study: 13)
# `--budget study`: the default study's own refit (its n_images and train_minutes, read from sweeps/clock.yaml), so a
# family's model is the one `make sweep TASK=clock` would refit without it; parts in a folder named `budget=study`
BUDGETS = ("reduced", "study")
TEST_CLOCKS = 1000  # per held-out set
TRAIN_SEED, LEFT_OUT_SEED, SEEN_SEED = 0, 111, 106  # render seeds: training, the left-out-only sets, the seen set
BASELINE = "nothing"
PROBABILITY_KNOBS = {"dark_face": "dark_face_probability", "second_hand": "second_hand_probability",
                     "rim": "rim_probability"}
# likely worst first, so a cut-short session still has them; the baseline after the first four
FAMILIES = ("dark_face", "second_hand", "dial:ticks", "hand:arrow", BASELINE, "dial:roman", "rim", "hand:tapered",
            "dial:arabic_quarters", "dial:arabic", "hand:bar")
METRICS = ("cse_minutes", "cse_median", "share_over_30min", "share_hour_slip")


def style_split(family: str, base: Variation | None = None) -> tuple[Variation, Variation]:
    """(training variation without the family, test variation with only it); the baseline trains on `base` as is."""
    base = base or Variation()
    if family == BASELINE:
        return base, base
    if family in PROBABILITY_KNOBS:
        knob = PROBABILITY_KNOBS[family]
        return dataclasses.replace(base, **{knob: 0.0}), dataclasses.replace(base, **{knob: 1.0})
    kind, _, style = family.partition(":")
    field = {"dial": "dial_styles", "hand": "hand_styles"}.get(kind)
    if field is None or style not in (DIAL_STYLES if kind == "dial" else HAND_STYLES):
        raise ValueError(f"unknown style family {family!r}; known: {', '.join(FAMILIES)}")
    left_out = {style, *LEFT_OUT_WITH.get(style, ())}
    kept = tuple(value for value in getattr(base, field) if value not in left_out)
    return dataclasses.replace(base, **{field: kept}), dataclasses.replace(base, **{field: (style,)})


def _centred(variation: Variation, n: int, seed: int, workers: int):
    """Rendered and localised photographs (both cached beside the rendered set), labels, dial-found share."""
    from datasets.clocks import rendered_clocks
    from trainers.clock.training import centred_rendered_clocks

    images, labels = rendered_clocks(n, seed, variation, workers)
    centred, found = centred_rendered_clocks(images, n, seed, variation, workers)
    return centred, labels, float(found.mean())


def read_set(model_path: Path, variation: Variation, seed: int, n: int = TEST_CLOCKS, workers: int = 2,
             with_outputs: bool = False):
    """The saved model (its sidecar's input preparation and test-time turns) on one held-out set: the localised
    photographs, their true minutes, the model's readings and the share of dials found (`with_outputs`: and the
    network's outputs averaged over the views)."""
    import numpy as np

    from trainers.clock.metric import to_minutes
    from trainers.clock.predict import load_clock_model, read_views, resize_images, view_outputs

    model, head, preparation = load_clock_model(model_path)
    images, labels, found = _centred(variation, n, seed, workers)
    outputs = view_outputs(model, resize_images(images, int(model.input_shape[1])), preparation)
    read = images, to_minutes(labels), read_views(head, outputs), found
    return (*read, np.mean(outputs, axis=0)) if with_outputs else read


def score(model_path: Path, variation: Variation, seed: int, n: int = TEST_CLOCKS, workers: int = 2) -> dict:
    """The saved model's scores on one held-out set (`read_set`)."""
    from trainers.clock.metric import error_report

    _, true_minutes, read_minutes, found = read_set(model_path, variation, seed, n, workers)
    report = error_report(true_minutes, read_minutes, "set")
    return {"n": n, "seed": seed, "dial_found_share": found,
            **{name: report[f"set/{name}"] for name in (*METRICS, "cse_p90")}}


def training_config(train_dir: Path, train_minutes: float, n_train: int) -> dict:
    """What `make sweep TASK=clock` refits (fixed values, first prior, refit) on the given rendered set."""
    from sweeps.spec import load_spec

    spec = load_spec("clock")
    return {**spec.fixed, **spec.start_with[0], **(spec.refit or {}), "n_images": n_train,
            "data_dir": str(train_dir), "train_minutes": train_minutes}


def run_family(family: str, work: Path, budget: str = "reduced", n_test: int = TEST_CLOCKS, seed: int = 0,
               overrides: dict | None = None, base: str = "default") -> dict:
    """One family: train without it (`seed`: the split, weights and shuffling), score on only it and on `default`;
    `overrides` (a treatment) on top of the study's values; `base`: the variation trained on (less the family);
    `budget`: one of BUDGETS (its training clocks and minutes: `budget_values`), recorded in the part and its
    folder."""
    from trainers import run

    n_train, train_minutes = budget_values(budget)
    own_variation = study_variation()  # read with the budget, before training: what this part is measured against
    train_dir, train_variations = training_set(family, base, n_train)
    train_variation = train_variations[0]
    test_variation = style_split(family, first_share(base))[1]
    started = time.perf_counter()
    run_dir = work / part_path(family, seed, overrides, base, budget).stem
    config = {**training_config(train_dir, train_minutes, n_train), "seed": seed, **(overrides or {})}
    result = run("clock", config, None, run_dir)
    seconds = round(time.perf_counter() - started, 1)
    model = run_dir / "model.keras"
    part = {"family": family, "seed": seed, "overrides": overrides or {}, "base": base, "budget": budget,
            "study_variation": own_variation,
            "train_variation": train_variation.as_dict(),
            **({"train_shares": [variation.as_dict() for variation in train_variations]}
               if len(train_variations) > 1 else {}),
            "test_variation": test_variation.as_dict(), "train_clocks": n_train, "train_minutes": train_minutes,
            "seconds": seconds, "train_epochs": result.metrics.get("train/epochs"),
            "split_test_cse_minutes": result.metrics.get("test/cse_minutes"),
            "seen": score(model, Variation(), SEEN_SEED, n_test)}
    if family == BASELINE:  # the full-variation model on every family's only-set: what leaving it out costs
        part["left_out_sets"] = {other: score(model, style_split(other)[1], LEFT_OUT_SEED, n_test)
                                 for other in FAMILIES if other != BASELINE}
    else:
        part["left_out"] = score(model, test_variation, LEFT_OUT_SEED, n_test)
    return part


def first_share(base: str) -> Variation:
    """The variation of a base's first share (a mixture's first, e.g. `default` of `default+wide`; else the base)."""
    from datasets.clocks import mixture_parts

    return mixture_parts(base, 1, TRAIN_SEED)[0][2]


def training_set(family: str, base: str, n_train: int) -> tuple[Path, list[Variation]]:
    """The rendered training clocks without the family, as a folder a run reads (`data_dir`), and the variations
    rendered: one cached set, or each share of a mixture (`default+wide`) less the family, written together."""
    import numpy as np

    from datasets.clocks import mixture_parts, rendered_clocks, rendered_set_dir, save_clock_arrays

    shares = [(n, seed, style_split(family, variation)[0])
              for n, seed, variation in mixture_parts(base, n_train, TRAIN_SEED)]
    rendered = [rendered_clocks(n, seed, variation, 2) for n, seed, variation in shares]
    folders = [rendered_set_dir(n, seed, variation) for n, seed, variation in shares]
    if len(folders) == 1:
        return folders[0], [shares[0][2]]
    directory = folders[0].with_name("mixture-" + "+".join(folder.name for folder in folders))
    if not (directory / "labels.npy").exists():
        save_clock_arrays(directory, np.concatenate([images for images, _ in rendered]),
                          np.concatenate([labels for _, labels in rendered]))
    return directory, [variation for _, _, variation in shares]


def study_budget() -> tuple[int, float]:
    """(training clocks, training minutes) of the default study's refit."""
    from sweeps.spec import load_spec

    spec = load_spec("clock")
    values = {**spec.fixed, **(spec.refit or {})}
    return int(values["n_images"]), float(values["train_minutes"])


def study_variation() -> str:
    """The training variation (or mixture) sweeps/clock.yaml's default study renders now."""
    from sweeps.spec import load_spec

    return str(load_spec("clock").fixed.get("variation", "default"))


def budget_values(budget: str) -> tuple[int, float]:
    """(training clocks, training minutes) of a budget named in BUDGETS."""
    return study_budget() if budget == "study" else (TRAIN_CLOCKS, TRAIN_MINUTES)


def treatment_name(overrides: dict | None, base: str = "default", budget: str = "reduced") -> str:
    """`key=value,key=value` (sorted; a base variation other than `default` as `base=NAME`, a budget other than
    the reduced one as `budget=NAME`), the folder a treatment's parts land in; '' for the study's own values."""
    values = {**({"base": base} if base != "default" else {}),
              **({"budget": budget} if budget != "reduced" else {}), **(overrides or {})}
    return ",".join(f"{key}={value}" for key, value in sorted(values.items()))


def part_path(family: str, seed: int = 0, overrides: dict | None = None, base: str = "default",
              budget: str = "reduced") -> Path:
    name = treatment_name(overrides, base, budget)
    folder = PARTS / name if name else PARTS
    return folder / f"{family.replace(':', '-')}{f'-seed{seed}' if seed else ''}.json"


def treatment_rows(untreated: list[dict], treated: list[dict]) -> list[dict]:
    """Each treated part beside the part of the same family and training seed without its treatment (None where
    not run): at the study's budget, the one trained with the study's values alone on the study's training
    variation when the treated part ran (recorded in the part since the study could change mixture; else the
    current one), which itself stands beside the reduced-budget part (its treatment is the budget)."""
    current = study_variation()

    def own(part: dict) -> str:
        return part.get("study_variation", current) if part.get("budget", "reduced") == "study" else "default"

    def values_alone(part: dict) -> bool:
        return not part["overrides"] and part.get("base", "default") == own(part)

    def key(part: dict) -> tuple[str, int, str, str]:
        return part["family"], part.get("seed", 0), part.get("budget", "reduced"), own(part)

    plain = {key(part): part for part in [*untreated, *filter(values_alone, treated)]}
    rows = []
    for part in sorted(treated, key=key):
        before = plain.get((*key(part)[:2], "reduced", "default") if values_alone(part) else key(part))
        rows.append({"treatment": treatment_name(part["overrides"], part.get("base", "default"),
                                                 part.get("budget", "reduced")),
                     "family": part["family"],
                     "seed": part.get("seed", 0), "epochs": part["train_epochs"],
                     "before_epochs": before["train_epochs"] if before else None,
                     "left_out": part.get("left_out"), "before_left_out": (before or {}).get("left_out"),
                     "seen": part["seen"], "before_seen": before["seen"] if before else None})
    return rows


def treatment_markdown(rows: list[dict]) -> str:
    lines = ["| treatment | left out | training seed | epochs fit (without -> with) | only it: without -> with | "
             "held-out `default`: without -> with |", "|---|---|---|---|---|---|"]
    for row in rows:
        before = "not run" if row["before_epochs"] is None else f"{row['before_epochs']:.0f}"
        only = ("" if row["family"] == BASELINE
                else f"{_cells(row['before_left_out'])} -> {_cells(row['left_out'])}")
        lines.append(f"| {row['treatment']} | {row['family']} | {row['seed']} | {before} -> {row['epochs']:.0f} | "
                     f"{only} | {_cells(row['before_seen'])} -> {_cells(row['seen'])} |")
    return "\n".join(lines) + "\n"


def table_rows(parts: dict[str, dict], repeats: list[dict] = ()) -> list[dict]:
    """Per family: the left-out model on its left-out set and on the seen set, the gap, the baseline on that set;
    then each repeat with another training seed (read against the baseline of the same seed, where there is one)."""
    rows = []
    for part in [parts[family] for family in FAMILIES if family in parts] + list(repeats):
        family, seed = part["family"], part.get("seed", 0)
        if family == BASELINE:
            continue
        baseline = next((other for other in [parts.get(BASELINE), *repeats]
                         if other and other["family"] == BASELINE and other.get("seed", 0) == seed), {})
        baseline = baseline.get("left_out_sets", {})
        left_out, seen = part["left_out"], part["seen"]
        rows.append({"family": family + (f", training seed {seed}" if seed else ""), "seed": seed,
                     "left_out": left_out, "seen": seen,
                     "gap_minutes": left_out["cse_minutes"] - seen["cse_minutes"],
                     "own_split_cse_minutes": part["split_test_cse_minutes"], "epochs": part["train_epochs"],
                     "baseline_on_left_out": baseline.get(family)})
    return rows


def _cells(scores: dict | None) -> str:
    """mean / median / over 30 min / hour slips."""
    if not scores:
        return "not run"
    return (f"{scores['cse_minutes']:.1f} / {scores['cse_median']:.0f} / {100 * scores['share_over_30min']:.1f}% / "
            f"{100 * scores['share_hour_slip']:.1f}%")


def markdown(rows: list[dict], parts: dict[str, dict], repeats: list[dict] | None = None) -> str:
    """Each cell: mean / median / over 30 min / hour slips, in minutes of common-sense error; `repeats`: baseline
    runs with other training seeds (the run-to-run spread at this budget; families' repeats are in `rows`)."""
    lines = ["| left out | epochs fit | only it | held-out `default` | own split (mean) | gap: only it minus `default` "
             "(mean) | nothing-left-out model on only it | n |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['family']} | {row['epochs']:.0f} | {_cells(row['left_out'])} | {_cells(row['seen'])} | "
                     f"{row['own_split_cse_minutes']:.1f} | {row['gap_minutes']:+.1f} | "
                     f"{_cells(row['baseline_on_left_out'])} | {row['left_out']['n']} |")
    for baseline in [part for part in [parts.get(BASELINE), *(repeats or [])] if part and part["family"] == BASELINE]:
        seed = f", training seed {baseline['seed']}" if baseline.get("seed") else ""
        lines.append(f"| nothing (baseline{seed}) | {baseline['train_epochs']:.0f} | | {_cells(baseline['seen'])} | "
                     f"{baseline['split_test_cse_minutes']:.1f} | | | {baseline['seen']['n']} |")
    return "\n".join(lines) + "\n"


def combine() -> Path:
    from benchmarks.machine import write_result

    loaded = [json.loads(path.read_text()) for path in sorted(PARTS.glob("*.json"))]
    parts = {part["family"]: part for part in loaded if not part.get("seed")}
    repeats = [part for part in loaded if part.get("seed")]
    rows = table_rows(parts, repeats)
    table = markdown(rows, parts, repeats)
    treated = [json.loads(path.read_text()) for path in sorted(PARTS.glob("*/*.json"))
               if "=" in path.parent.name]  # treatment folders (not the kept older-extractor parts)
    treatments = treatment_rows(loaded, treated)
    if treatments:
        table += ("\nTreatments (the study's values plus these, same render seeds; `budget=study`: the study's own "
                  "training clocks and refit minutes, beside the reduced-budget part, else the reduced budget):\n\n")
        table += treatment_markdown(treatments)
    (RESULTS / "clock_styles.md").write_text(table)
    print(table)
    study_clocks, study_minutes = study_budget()
    return write_result("clock_styles", {
        "budget": {"train_clocks": TRAIN_CLOCKS, "train_minutes": TRAIN_MINUTES, "test_clocks": TEST_CLOCKS,
                   "reduced": f"the default study refits on {study_clocks:,} clocks for {study_minutes:g} minutes; "
                              f"every family here, and the baseline, trains on {TRAIN_CLOCKS:,} for "
                              f"{TRAIN_MINUTES:g} minutes, so the absolute errors are higher "
                              "and a longer fit may narrow (or widen) each gap; the budget is wall-clock time, so "
                              "on a shared CPU the families fit different numbers of epochs (see rows[].epochs)",
                   "study": "treatments[] rows named budget=study trained at the study's own clocks and minutes "
                            "when they ran (each part's train_clocks and train_minutes)",
                   "cpu_shared": "measured while other jobs (a GAN training, sweeps) ran on the same 2 cores"},
        "seeds": {"train": TRAIN_SEED, "left_out": LEFT_OUT_SEED, "seen": SEEN_SEED},
        "families_missing": [family for family in FAMILIES if family not in parts],
        "rows": rows, "parts": parts, "repeats": repeats, "treatments": treatments})


def _overrides(parser: argparse.ArgumentParser, pairs: list[str]) -> dict:
    """KEY=VALUE pairs read as `--set` reads them (one YAML scalar each); the clock config checks the values when a
    family runs."""
    from trainers.config import ConfigError, parse_assignment

    try:
        return dict(parse_assignment(pair) for pair in pairs)
    except ConfigError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--force", action="store_true", help="run families whose part exists again")
    parser.add_argument("--table", action="store_true", help="only combine the parts and print the table")
    parser.add_argument("--keep", type=Path, default=None, help="keep the models here")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="a treatment: config values on top of the study's (YAML scalars), parts in a subfolder")
    parser.add_argument("--base", default="default", help="the variation trained on, less the family (e.g. diverse: "
                                                              "more dial designs); the test sets stay as they are")
    parser.add_argument("--budget", choices=BUDGETS, default="reduced",
                        help="reduced: 6,000 clocks and 2.5 minutes per family; study: the default study's refit")
    parser.add_argument("--seed", type=int, default=0,
                        help="training seed (split, weights, shuffling); other than 0: a repeat, e.g. of the baseline")
    args = parser.parse_args(argv)
    overrides = _overrides(parser, args.overrides)
    if not args.table:
        with tempfile.TemporaryDirectory(prefix="clock-styles-") as directory:
            work = args.keep or Path(directory)
            for family in args.families:
                path = part_path(family, args.seed, overrides, args.base, args.budget)
                if path.exists() and not args.force:
                    continue
                part = run_family(family, work, args.budget, seed=args.seed, overrides=overrides, base=args.base)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(part, indent=2) + "\n")
                print(json.dumps({"family": family, "seconds": part["seconds"],
                                  "left_out": part.get("left_out", {}).get("cse_minutes"),
                                  "seen": part["seen"]["cse_minutes"]}), flush=True)
    print(f"wrote {combine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
