"""Does a study's cheap rung rank configurations as its refit does? The same configurations at every rung.

Configurations: `--random N` drawn uniformly from the study's space (seeded; what a search starts from) plus any
given in `--configs FILE` (a JSON list of {name, params}: a study's picks, a preset). Each runs as
`sweeplab run STUDY --set ...` at the study's own rungs (`low`: its fixed values; `promoted`: its promotion's
values; `refit`: its refit's values) and at candidate rungs given as `--rung NAME=KEY=VALUE,KEY=VALUE`.
Per rung: the Spearman rank correlation of its validation accuracy with the refit's test accuracy, and the refit
test accuracy of the configuration that rung would pick. Resumable: each (configuration, rung) is kept under
benchmarks/results/rung_fidelity-STUDY.parts/ and skipped when present. Run it alone on the CPU: the rungs are
capped in minutes.

    python -m benchmarks.rung_fidelity --study fashion-mlp-user --random 6 \
        --configs benchmarks/rung_fidelity-fashion-mlp-user.configs.json \
        --rung long-subset=subset=20000,epochs=100,train_minutes=0.2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.machine import RESULTS_DIR, measured_parts, write_result


def random_configs(study: str, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` configurations drawn uniformly from the study's space, as a random search's first draws."""
    import optuna

    from sweeps.space import suggest_all
    from sweeps.spec import load_spec

    spec = load_spec(study)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampled = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for index in range(count):
        trial = sampled.ask()
        configs.append({"name": f"random-{seed}-{index}", "params": suggest_all(spec.parameters, trial, spec.fixed)})
        sampled.tell(trial, 0.0)
    return configs


def study_rungs(study: str) -> dict[str, dict[str, Any]]:
    """The study's own rungs as overrides of its fixed values."""
    from sweeps.spec import load_spec

    spec = load_spec(study)
    rungs: dict[str, dict[str, Any]] = {"low": {}}
    if spec.promote:
        rungs["promoted"] = dict(spec.promote["set"])
    if spec.refit:
        rungs["refit"] = dict(spec.refit)
    return rungs


def parse_rung(text: str) -> tuple[str, dict[str, Any]]:
    """NAME=KEY=VALUE,KEY=VALUE -> (NAME, {KEY: VALUE}) with YAML-typed values."""
    import yaml

    name, _, rest = text.partition("=")
    values = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, {key: yaml.safe_load(value) for key, value in values.items()}


def run(study: str, params: dict[str, Any], rung: dict[str, Any]) -> dict[str, float]:
    """One `sweeplab run` of the study at `params` and the rung's overrides; its final metrics."""
    with tempfile.TemporaryDirectory(prefix="rung-fidelity-") as run_dir:
        sets = [item for key, value in {**params, **rung}.items() for item in ("--set", f"{key}={value}")]
        done = subprocess.run([sys.executable, "-m", "sweeplab", "run", study, "--run-dir", run_dir, *sets],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"sweeplab run failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        return json.loads((Path(run_dir) / "result.json").read_text())["metrics"]


def summarise(configs: list[dict[str, Any]], parts: dict[str, dict[int, dict]]) -> dict[str, Any]:
    """Per rung: its rank correlation with the refit's test accuracy (the study's own measure,
    `sweeps.promotion.spearman`), its pick and that pick's refit test accuracy, over configurations at every rung."""
    from sweeps.promotion import spearman

    complete = [index for index in range(len(configs)) if all(index in by for by in parts.values())]
    refit_test = [parts["refit"][index]["metrics"]["test/accuracy"] for index in complete]
    rows = {}
    for rung, by_config in parts.items():
        values = [by_config[index]["metrics"]["val/accuracy"] for index in complete]
        pick = complete[max(range(len(complete)), key=values.__getitem__)] if complete else None
        rows[rung] = {"spearman_with_refit_test": spearman(list(zip(values, refit_test, strict=True))),
                      "pick": configs[pick]["name"] if pick is not None else None,
                      "pick_refit_test": parts["refit"][pick]["metrics"]["test/accuracy"] if pick is not None else None,
                      "median_train_seconds": statistics.median_high(
                          by_config[i]["metrics"]["time/train_seconds"] for i in complete) if complete else None}
    return {"configurations_complete": len(complete), "rungs": rows,
            "best_refit_test": max(refit_test) if refit_test else None}


def markdown(configs: list[dict[str, Any]], parts: dict[str, dict[int, dict]], summary: dict[str, Any]) -> str:
    rungs = list(parts)
    lines = ["| configuration | " + " | ".join(f"{rung} val" for rung in rungs) + " | refit test |",
             "|---|" + "---|" * (len(rungs) + 1)]
    for index, config in enumerate(configs):
        if all(index in parts[rung] for rung in rungs):
            cells = [f"{100 * parts[rung][index]['metrics']['val/accuracy']:.2f}" for rung in rungs]
            lines.append(f"| {config['name']} | " + " | ".join(cells)
                         + f" | {100 * parts['refit'][index]['metrics']['test/accuracy']:.2f} |")
    lines += ["", "| rung | Spearman with refit test | its pick | pick's refit test | median train s |",
              "|---|---|---|---|---|"]
    for rung, row in summary["rungs"].items():
        rho = "-" if row["spearman_with_refit_test"] is None else f"{row['spearman_with_refit_test']:.2f}"
        pick_test = "-" if row["pick_refit_test"] is None else f"{100 * row['pick_refit_test']:.2f}"
        lines.append(f"| {rung} | {rho} | {row['pick']} | {pick_test} | {row['median_train_seconds']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", required=True)
    parser.add_argument("--random", type=int, default=6, help="configurations drawn from the space")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", type=Path, help="JSON list of {name, params}")
    parser.add_argument("--rung", action="append", default=[], help="NAME=KEY=VALUE,KEY=VALUE (repeatable)")
    args = parser.parse_args()

    configs = (json.loads(args.configs.read_text()) if args.configs else []) + random_configs(
        args.study, args.random, args.seed)
    rungs = study_rungs(args.study)
    if "refit" not in rungs:
        parser.error(f"study {args.study!r} has no refit: its rungs are read against the refit's test accuracy")
    refit = rungs.pop("refit")
    rungs.update(parse_rung(text) for text in args.rung)
    rungs["refit"] = refit
    parts_dir = RESULTS_DIR / f"rung_fidelity-{args.study}.parts"
    by_rung = measured_parts(
        parts_dir, list(rungs), list(range(len(configs))), lambda rung, index: f"{configs[index]['name']}-{rung}.json",
        lambda rung, index: {"config": configs[index], "rung": rungs[rung],
                             "metrics": run(args.study, configs[index]["params"], rungs[rung])},
        lambda rung, index, result: f"{configs[index]['name']} at {rung}: "
                                    f"val {result['metrics']['val/accuracy']:.4f}, "
                                    f"test {result['metrics']['test/accuracy']:.4f}")
    summary = summarise(configs, by_rung)
    table = markdown(configs, by_rung, summary)
    name = f"rung_fidelity-{args.study}"
    path = write_result(name, {"study": args.study, "configs": configs, "rungs": rungs, "summary": summary,
                        "parts": {rung: {configs[i]["name"]: part["metrics"] for i, part in by.items()}
                                  for rung, by in by_rung.items()}})
    path.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
