"""Clock commands: `clocks render`, `clocks compare`, and `predict clock`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sweeplab.commands import (
    add_overwrite_argument,
    add_storage_argument,
    load_existing_study,
    refuse_output_over_inputs,
)
from sweeplab.commands.results import finding_alias
from sweeplab.errors import UserError
from sweeplab.numbers import local_processes, rendered_images, seed
from sweeplab.paths import file_path, folder_path, path_text, shown


def register(subparsers: argparse._SubParsersAction) -> None:
    clocks = subparsers.add_parser("clocks", help="render clock photographs; compare label representations")
    actions = clocks.add_subparsers(dest="action", metavar="ACTION")
    render = actions.add_parser("render", help="write images.npy + labels.npy of rendered clocks")
    render.add_argument("--n", type=rendered_images, default=18000, help="images (18000 = 25 per minute of the 720)")
    render.add_argument("--seed", type=seed, default=0)
    render.add_argument("--variation", default="default", help="default, wide, mild, none, diverse or randomised")
    render.add_argument("--out", type=folder_path, required=True, help="output directory")
    render.add_argument("--preview", type=png_path, default=None, help="PNG of the first 32 images with their labels")
    render.add_argument("--workers", type=local_processes, default=os.cpu_count() or 1)
    add_overwrite_argument(render, "--out", "--preview")
    render.set_defaults(handler=render_command)
    finding_alias(actions, "compare", "clock-representations", "test error per label representation")
    clocks.set_defaults(handler=lambda args: clocks.print_help() or 2)

    predict = subparsers.add_parser("predict", help="read the time off clock photographs with a saved model")
    predict.add_argument("task", choices=["clock"])
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=path_text,
                        help="model.keras written by a clock run (model.head.json beside it)")
    source.add_argument("--study", help="use the best trial's model of this study")
    add_storage_argument(predict)
    predict.add_argument("--images", type=path_text, required=True, help="images.npy, N x150x150 uint8")
    predict.add_argument("--labels", type=path_text, default=None,
                         help="labels.npy, N x2 (hour, minute): prints the errors")
    predict.add_argument("--out", type=file_path, default=None,
                         help="CSV of predictions (stdout without labels when absent)")
    add_overwrite_argument(predict, "--out")
    predict.set_defaults(handler=predict_command)


def png_path(text: str) -> str:
    """A path for a PNG the command writes: a name ending in .png that is not a directory (OpenCV picks its writer by
    the name, and failed with an internal error after the arrays were written: round 8's 5-c, 7-b)."""
    text = path_text(text)
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a file name ending in .png")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r}: is a directory; expected a file name ending in .png")
    return text


png_path.path_door = path_text  # type: ignore[attr-defined]  # it calls the path door first (tests check every path)


def render_command(args: argparse.Namespace) -> int:
    from datasets.clocks import render_clocks, save_clock_arrays, variation_named
    from datasets.clocks.preview import captioned_grid, format_time
    from datasets.images import save_png
    from datasets.ownership import claim
    from trainers.clock.metric import to_minutes

    try:
        variation = variation_named(args.variation)
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.preview is not None:
        preview, out = Path(os.path.abspath(args.preview)), Path(os.path.abspath(args.out))
        if preview in (out, out / "images.npy", out / "labels.npy") or preview in out.parents:
            raise UserError(f"--preview {shown(args.preview)}: that is where --out {shown(args.out)} writes the data "
                            "set; choose another file for the preview")
    for path in (Path(args.out, "images.npy"), Path(args.out, "labels.npy"), args.preview):
        if path is not None:
            claim(path)  # before the render: a data set kept there is refused now, not after the work
    images, labels = render_clocks(args.n, args.seed, variation, args.workers)
    save_clock_arrays(Path(args.out), images, labels)
    print(f"wrote {args.out}/images.npy {images.shape} {images.dtype} and labels.npy {labels.shape}")
    if args.preview:
        count = min(32, len(images))
        captions = [format_time(minutes) for minutes in to_minutes(labels[:count])]
        save_png(Path(args.preview), captioned_grid(images[:count], captions))
        print(f"preview: {args.preview}")
    return 0


def _best_model(study_name: str, storage: str | None) -> Path:
    """The study's refit model, else its best trial's saved model."""
    from sweeps.best import best_model_path

    path = best_model_path(load_existing_study(study_name, storage))
    if path is None:
        raise UserError(f"study {study_name!r} has no saved model yet: run `sweeplab refit {study_name}` "
                        "(or a trial with --set save_model=true)")
    return path


def predict_command(args: argparse.Namespace) -> int:
    import numpy as np

    from datasets.atomic import make_folder, write_text
    from datasets.clocks.arrays import read_npy, validate_images, validate_labels
    from datasets.clocks.preview import format_time
    from datasets.ownership import claim
    from trainers.clock.metric import common_sense_minutes, error_summary, to_minutes
    from trainers.clock.predict import head_path, load_clock_model, read_clocks

    try:
        images = validate_images(read_npy(Path(args.images)), args.images)
        labels = None if args.labels is None else validate_labels(read_npy(Path(args.labels)), len(images),
                                                                  args.labels)
        model_path = Path(args.model) if args.model else _best_model(args.study, args.storage)
        refuse_output_over_inputs("--out", args.out, {
            "the images": Path(args.images), "the labels": None if args.labels is None else Path(args.labels),
            "the model": model_path, "the model's sidecar": head_path(model_path)})
        if args.out:
            claim(args.out)  # a file sweeplab did not write there (a run's result.json, a folder) is refused first
        model, head, preparation = load_clock_model(model_path)
    except FileNotFoundError as error:
        raise UserError(str(error)) from None
    talk = sys.stderr if _is_stdout(args.out) else sys.stdout  # round 15's 5-d: the CSV alone goes to stdout
    minutes, found = read_clocks(model, head, images, preparation)
    rounded = np.round(minutes).astype(np.int64) % 720
    lines = ["index,hour,minute,time"] + [f"{index},{value // 60},{value % 60},{format_time(value)}"
                                          for index, value in enumerate(rounded)]
    summary: dict[str, float | int | str] = {"n": len(images), "head": head.name}
    if preparation.localize:  # the rest were read from the plain photograph
        summary["dial_found_share"] = float(found.mean())
    if labels is not None:
        errors = common_sense_minutes(to_minutes(labels), minutes)
        lines = [line + (",true_time,error_minutes" if index == 0 else
                         f",{format_time(to_minutes(labels[index - 1:index])[0])},{errors[index - 1]:.2f}")
                 for index, line in enumerate(lines)]
        stats = error_summary(errors, "cse")
        summary.update(mean=stats["cse/cse_minutes"], median=stats["cse/cse_median"], p90=stats["cse/cse_p90"],
                       share_over_30min=stats["cse/share_over_30min"])
        print(f"common-sense error over {len(images)} clocks: mean {summary['mean']:.2f} min, "
              f"median {summary['median']:.2f} min, 90th percentile {summary['p90']:.2f} min", file=talk)
    if args.out:
        make_folder(Path(args.out).parent)
        write_text(Path(args.out), "\n".join(lines) + "\n")
        summary["out"] = args.out
    elif labels is None:
        sys.stdout.write("\n".join(lines) + "\n")
    print(json.dumps(summary), file=talk)
    return 0


def _is_stdout(path: str | None) -> bool:
    """`path` is this process's standard output by any name (`/dev/stdout`, a link, the file `> f.csv` opened)."""
    try:
        return path is not None and os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError):
        return False
