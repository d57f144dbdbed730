"""Round 3's malformed files and input data (docs/defences.md, classes 7 and 8), each closed by class:
a run's metrics.jsonl is read line by line into checked records, its bad lines skipped with one warning (7-a, 7-b,
7-c); a clock sidecar's schema is closed at every level (7-d); a user's images are finite in the dtype they are
trained in (8-a); every class of y_test occurs in y_train (8-b)."""

from __future__ import annotations

import io
import json
import math
import warnings
from contextlib import redirect_stderr
from pathlib import Path
from typing import get_type_hints

import numpy as np
import optuna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from optuna.distributions import FloatDistribution

import datasets
from analysis.report_data import read_curve
from datasets.clocks.arrays import validate_labels
from datasets.formats import CorruptDataError
from sweeplab.cli import main
from trainers.clock.predict import HEAD_OPTIONS, SIDECAR_KEYS, InputPreparation, read_sidecar
from trainers.reporter import JsonlReporter
from trainers.user_fit import _read_npz, load_data, scaled

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**53, max_value=10**400),
                    st.floats(), st.text(max_size=6))
JSON = st.recursive(SCALARS, lambda children: st.one_of(st.lists(children, max_size=3),
                                                        st.dictionaries(st.text(max_size=6), children, max_size=3)),
                    max_leaves=8)
BAD_STEPS = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**53 + 1), st.floats(), st.booleans(),
                      st.none(), st.text(max_size=4), st.lists(st.integers(), max_size=2))


def _line(value: object) -> str:
    return json.dumps(value, allow_nan=True)  # NaN, Infinity: valid to Python's json, as 7-a and 7-b wrote them


NOT_A_RECORD = st.one_of(
    JSON.filter(lambda value: not isinstance(value, dict)).map(_line),  # NaN, [1, 2], "x", 3 (7-a, 7-c)
    st.builds(lambda step, rest: _line({**rest, "step": step}), BAD_STEPS, st.dictionaries(st.text(max_size=6), JSON,
                                                                                           max_size=3)),  # 7-b
    st.dictionaries(st.text(max_size=6).filter(lambda key: key != "step"), JSON, max_size=3).map(_line),  # no step
    st.text(max_size=30).filter(lambda text: "\n" not in text and text.strip() and not _parses(text)),
    st.binary(min_size=1, max_size=30).filter(lambda raw: b"\n" not in raw and raw.strip() and not _parses(raw)))
ODD_VALUES = st.dictionaries(st.text(max_size=6).filter(lambda key: key != "step"), JSON, max_size=4)


def _parses(text: str | bytes) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _spliced_run(folder: Path, data) -> tuple[Path, list[dict], list[int]]:
    """A real metrics.jsonl (JsonlReporter, 3 epochs) with generated lines spliced in: records with odd values
    (kept, their finite numbers only) and lines that are not records (skipped). Returns the expected records in
    order and the numbers of the bad lines."""
    reporter = JsonlReporter(folder)
    for step in (1, 2, 3):
        reporter.report(step, {"val/accuracy": 0.5 + step / 10, "train/loss": float("nan") if step == 2 else 1.0})
    lines: list[bytes] = reporter.path.read_bytes().splitlines()
    good = [(line, json.loads(line)) for line in lines]
    for _ in range(data.draw(st.integers(1, 6))):
        if data.draw(st.booleans()):
            raw = data.draw(NOT_A_RECORD)
            entry = (raw if isinstance(raw, bytes) else raw.encode("utf-8"), None)
        else:
            record = {**data.draw(ODD_VALUES), "step": data.draw(st.integers(0, 2**53))}
            entry = (_line(record).encode(), record)
        good.insert(data.draw(st.integers(0, len(good))), entry)
    reporter.path.write_bytes(b"\n".join(line for line, _ in good) + b"\n")
    expected = [record for _, record in good if record is not None]
    bad = [number for number, (_, record) in enumerate(good, start=1) if record is None]
    return reporter.path, expected, bad


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_metrics_file_with_any_lines_spliced_in_gives_its_good_records_and_one_warning(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("run")
    path, expected, bad = _spliced_run(folder, data)
    trial = optuna.trial.create_trial(value=0.5, user_attrs={"run_dir": str(folder)})
    warnings: list[str] = []
    curve = read_curve(trial, folder, "s", warnings)
    assert curve is not None and curve.steps == [record["step"] for record in expected]
    for name, values in curve.series.items():
        assert values == [float(record[name]) if _finite(record.get(name)) else None for record in expected]
    assert all(_finite(record[name]) <= (name in curve.series) for record in expected for name in record
               if name != "step")
    if not bad:
        assert warnings == []
        return
    assert len(warnings) == 1 and "\n" not in warnings[0] and str(path) in warnings[0]
    assert f"skipped {len(bad)} line" in warnings[0]
    assert all(f"line {number} (" in warnings[0] for number in bad[:3])


def _study_with_runs(folder: Path) -> tuple[str, list[Path]]:
    """A SQLite study of two completed trials, each with a real metrics.jsonl in its run directory."""
    url = f"sqlite:///{folder / 'study.db'}"
    study = optuna.create_study(study_name="damaged", storage=url, direction="maximize")
    paths = []
    for number, rate in enumerate((0.01, 0.1)):
        run_dir = folder / "runs" / f"{number:04d}"
        reporter = JsonlReporter(run_dir)
        for step in (1, 2):
            reporter.report(step, {"val/accuracy": rate * step})
        study.add_trial(optuna.trial.create_trial(
            params={"learning_rate": rate}, distributions={"learning_rate": FloatDistribution(1e-3, 1.0, log=True)},
            value=rate * 2, user_attrs={"run_dir": str(run_dir)}))
        paths.append(reporter.path)
    return url, paths


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=5)
@given(junk=st.lists(NOT_A_RECORD, min_size=1, max_size=3))
@example(junk=["NaN"]).via("7-a")
@example(junk=['{"step": Infinity, "val/accuracy": NaN}']).via("7-b")
@example(junk=["[1, 2]"]).via("7-c")
def test_report_of_a_study_with_a_damaged_metrics_file_is_written_with_one_warning(tmp_path_factory, junk):
    folder = tmp_path_factory.mktemp("report")
    url, paths = _study_with_runs(folder)
    with paths[1].open("ab") as handle:
        handle.write(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in junk))
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        assert main(["report", "--storage", url, "--out", str(folder / "out")]) == 0
    assert (folder / "out" / "index.html").is_file()
    warnings = [line for line in stderr.getvalue().splitlines() if "metrics records" in line]
    assert len(warnings) == 1 and str(paths[1]) in warnings[0] and "line 3 (" in warnings[0]
    page = "".join(path.read_text() for path in (folder / "out").glob("*.html"))
    assert "line 3 (" in page  # the page says so too



SIDECARS = [{"head": "periodic", "options": {}, "input": {"localize": True, "test_turns": [90], "test_shift": 2.0}},
            {"head": "hands", "options": {"minute_weight": 1.0, "hour_decoding": "given_minute"}, "input": {}},
            {"head": "classification", "options": {"classes": 12}, "input": {}}]
LEVELS = {"": SIDECAR_KEYS, "options.": HEAD_OPTIONS, "input.": get_type_hints(InputPreparation)}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sidecar=st.sampled_from(SIDECARS), where=st.sampled_from(sorted(LEVELS)), value=JSON, data=st.data())
@example(sidecar=SIDECARS[0], where="", value=1, data=None).via("7-d")
def test_an_unknown_key_at_any_level_of_a_sidecar_is_refused_in_one_line(tmp_path_factory, sidecar, where, value,
                                                                         data):
    key = "extra" if data is None else data.draw(st.text(max_size=12).filter(lambda key: key not in LEVELS[where]))
    sidecar = json.loads(json.dumps(sidecar))
    (sidecar if not where else sidecar.setdefault(where.rstrip("."), {}))[key] = value
    path = tmp_path_factory.mktemp("sidecar") / "model.head.json"
    path.write_text(json.dumps(sidecar))
    with pytest.raises(CorruptDataError) as refused:
        read_sidecar(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "unknown key" in message
    assert f": {where}{key}: " in message or f": {where}{key!r}: " in message


FLOAT32_MAX = float(np.finfo(np.float32).max)
ACROSS_FLOAT32 = st.one_of(st.floats(1e37, 1e39), st.floats(FLOAT32_MAX * (1 - 1e-7), FLOAT32_MAX * (1 + 1e-7)),
                           st.floats(1e39, 1.7e308), st.floats(-1e3, 1e3)).flatmap(
    lambda value: st.sampled_from([value, -value]))


def _in_float32(value: float) -> bool:
    with np.errstate(over="ignore"):
        return bool(np.isfinite(np.float64(value).astype(np.float32)))


def _user_npz(folder: Path, **changes: np.ndarray) -> Path:
    """A valid user .npz (3 classes, 30 training and 9 test images of 4 x 4 float64) with `changes` applied."""
    labels = np.arange(30) % 3
    arrays = {"x_train": np.random.default_rng(0).random((30, 4, 4)), "y_train": labels,
              "x_test": np.random.default_rng(1).random((9, 4, 4)), "y_test": labels[:9], **changes}
    path = folder / "data.npz"
    np.savez(path, **arrays)
    return path


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=ACROSS_FLOAT32, part=st.sampled_from(["x_train", "x_test"]), where=st.integers(0, 8 * 16 - 1),
       everywhere=st.booleans())
@example(value=1e308, part="x_train", where=0, everywhere=True).via("8-a")
def test_images_that_are_not_finite_as_float32_are_refused_naming_the_file_and_array(tmp_path_factory, value, part,
                                                                                     where, everywhere):
    images = np.random.default_rng(2).random((9, 4, 4))
    if everywhere:
        images = images * value  # 8-a: random * 1e308
    images.reshape(-1)[where] = value
    path = _user_npz(tmp_path_factory.mktemp("npz"), **{part: images})
    beyond = not _in_float32(float(np.abs(images).max()))
    if part == "x_train":  # the training set is larger: keep the valid rows and put the generated ones first
        images = np.concatenate([images, np.random.default_rng(3).random((21, 4, 4))])
        path = _user_npz(path.parent, x_train=images)
    try:
        splits, _ = load_data(str(path))
    except CorruptDataError as error:
        assert beyond and str(error).startswith(f"{path}: {part} holds ") and "\n" not in str(error)
        return
    assert not beyond
    for name in ("x_train", "x_val", "x_test"):  # the second door: arrays a user's loader hands to fit_keras
        assert np.isfinite(scaled(getattr(splits, name), name)).all()


@given(value=ACROSS_FLOAT32, dtype=st.sampled_from([np.float64, np.longdouble]))
def test_arrays_handed_to_fit_keras_are_refused_where_float32_is_not_finite(value, dtype):
    images = np.full((2, 3), value, dtype=dtype)
    if _in_float32(value):
        assert np.isfinite(scaled(images, "x_val")).all()
        return
    with pytest.raises(CorruptDataError, match=r"^x_val holds .*float32") as refused:
        scaled(images, "x_val")
    assert "\n" not in str(refused.value)


LABEL_SETS = st.sets(st.integers(0, 12), min_size=1, max_size=6)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(train=LABEL_SETS.filter(lambda labels: len(labels) >= 2), test=LABEL_SETS, data=st.data())
@example(train={0, 2}, test={0, 1, 2}, data=None).via("8-b")
def test_every_class_of_y_test_occurs_in_y_train(tmp_path_factory, train, test, data):
    count = max(train) + 1 + (data.draw(st.integers(0, 10)) if data else 0)  # K = max + 1 <= training examples
    y_train = np.array(sorted(train) * (count // len(train) + 1))[:max(count, len(train))]
    y_train[: len(train)] = sorted(train)
    y_test = np.array(sorted(test))
    path = _user_npz(tmp_path_factory.mktemp("labels"), x_train=np.zeros((len(y_train), 4, 4)), y_train=y_train,
                     x_test=np.zeros((len(y_test), 4, 4)), y_test=y_test)
    unseen = sorted(test - train)
    try:
        dataset = _read_npz(path)  # the file's door (load_data's split may then refuse a tiny set on its own)
    except CorruptDataError as error:
        message = str(error)
        assert unseen and message.startswith(f"{path}: y_test holds {len(unseen)} class") and "\n" not in message
        assert message.split("never holds: ")[1].startswith(", ".join(map(str, unseen)))
        return
    assert not unseen and dataset.num_classes == max(train) + 1


@given(labels=st.lists(st.tuples(ACROSS_FLOAT32 | st.integers(-2, 70), ACROSS_FLOAT32 | st.integers(-2, 70)),
                       min_size=1, max_size=4),
       dtype=st.sampled_from([np.float64, np.float32, np.int64, np.uint64, np.int8]))
@example(labels=[(2**64 - 1, 0)], dtype=np.uint64)
def test_clock_labels_are_checked_as_given_not_as_the_cast_wraps_them(labels, dtype):
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        array = np.array([[float(hour), float(minute)] for hour, minute in labels]).astype(dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflowing cast on the way
            checked = validate_labels(array, len(array), "labels.npy")
    except CorruptDataError as error:
        message = str(error)
        assert message.startswith("labels.npy: ") and "\n" not in message
        if "must lie in" in message:  # named as given: the range found is the column's own, not a wrapped one
            column = array[:, 0] if message.startswith("labels.npy: hours") else array[:, 1]
            assert message.endswith(f"found {column.min()}..{column.max()}")
        else:
            as_float = array.astype(np.float64)
            assert not (np.isfinite(as_float).all() and (np.mod(as_float, 1) == 0).all())
        return
    assert checked.dtype == np.int64 and (checked == array).all()
    assert ((checked[:, 0] >= 0) & (checked[:, 0] <= 11) & (checked[:, 1] >= 0) & (checked[:, 1] <= 59)).all()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(per_class=st.lists(st.integers(1, 3), min_size=2, max_size=40), fraction=st.sampled_from([0.1, 0.2, 0.5]),
       seed=st.integers(0, 5), subset=st.sampled_from([0, 0, 5]))
@example(per_class=[1] * 40, fraction=0.1, seed=0, subset=0).via("rounds 4-5's 8-a: one example per class")
def test_no_class_is_scored_in_validation_that_training_never_saw(tmp_path_factory, per_class, fraction, seed,
                                                                  subset):
    """Rounds 4-5: with one example per class, the validation carve took classes' only examples, and the trial
    completed with 0 accuracy on classes it never trained. Any class counts, fraction, seed or subset: the split
    either holds every validation class in training or is refused in one line naming the file."""
    y_train = np.repeat(np.arange(len(per_class)), per_class)
    path = _user_npz(tmp_path_factory.mktemp("carve"), x_train=np.zeros((len(y_train), 4, 4)), y_train=y_train,
                     x_test=np.zeros((2, 4, 4)), y_test=np.array([0, 1]))
    try:
        splits, _ = load_data(str(path), validation_fraction=fraction, subset=subset, seed=seed)
    except CorruptDataError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message
        if "validation split holds" in message:
            dropped = set(datasets.split(_read_npz(path), fraction, subset, 0, seed).y_val.tolist())
            assert dropped - set(datasets.split(_read_npz(path), fraction, subset, 0, seed).y_train.tolist())
        return
    assert set(splits.y_val.tolist()) <= set(splits.y_train.tolist())


def test_a_built_in_classification_split_is_checked_the_same_way() -> None:
    """The built-in classification task goes through the same check (a tiny subset of a real dataset)."""
    from trainers import get_task, resolve_config
    from trainers.classification import prepare_splits

    config = resolve_config(get_task("classify"), {"dataset": "mnist", "subset": 12, "validation_fraction": 0.5})
    with pytest.raises(CorruptDataError, match=r"^mnist: the validation split holds 3 class\(es\) the training split "
                                               r"never holds \(3, 4, 6\)"):
        prepare_splits(config)  # seed 0's carve of 24 examples: 3 classes only in validation


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(0, 80), max_bytes=st.integers(0, 40), grow=st.integers(0, 20))
def test_a_bounded_read_returns_the_whole_file_or_refuses_it_in_one_line(tmp_path_factory, size, max_bytes, grow):
    """The regular-file door's bound: a file within it is read whole, a larger one (also one that grew since its size
    was taken) is FileTooLargeError naming it, never read whole."""
    from datasets.regular_files import FileTooLargeError, read_regular_bytes

    path = tmp_path_factory.mktemp("bounded") / "f.json"
    path.write_bytes(b"x" * size)
    try:
        data = read_regular_bytes(path, max_bytes)
    except FileTooLargeError as error:
        assert size > max_bytes and str(error).startswith(f"{path}: {size:,} bytes") and "\n" not in str(error)
        return
    assert size <= max_bytes and data == b"x" * size


JSON_DOORS = ["sidecar", "trial.json", "result.json"]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(door=st.sampled_from(JSON_DOORS), depth=st.integers(5_000, 120_000), opener=st.sampled_from(["[", '{"a":']),
       oversize=st.booleans())
def test_json_nested_past_the_parsers_depth_or_too_large_is_one_line_at_every_json_door(tmp_path_factory, door, depth,
                                                                                       opener, oversize):
    """A JSON file a user hands over (a model's sidecar, a run's trial.json / result.json for `record`) nested deeper
    than the parser recurses (RecursionError, no ValueError) or larger than its kind ever is: one line naming the
    file, never an internal error."""
    from sweeps.record import MAX_RUN_FILE_BYTES, RecordError, read_run
    from trainers.clock.predict import MAX_SIDECAR_BYTES, read_sidecar

    folder = tmp_path_factory.mktemp("nested")
    name = "model.head.json" if door == "sidecar" else door
    path = folder / name
    limit = MAX_SIDECAR_BYTES if door == "sidecar" else MAX_RUN_FILE_BYTES
    if oversize:
        with open(path, "wb") as handle:  # sparse: no disk spent
            handle.truncate(limit + 1)
    else:
        path.write_text(opener * depth)
    for other in ("trial.json", "result.json"):
        if door != "sidecar" and other != door:
            (folder / other).write_text("{}")
    expected = (CorruptDataError,) if door == "sidecar" else (RecordError,)
    with pytest.raises(expected) as refused:
        read_sidecar(path) if door == "sidecar" else read_run(folder)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message, message  # the file handed over is the one named
    assert ("more than a file of its kind holds" if oversize else "RecursionError") in message, message


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sidecar=st.sampled_from(SIDECARS), data=st.data())
def test_a_key_given_twice_at_any_level_of_a_sidecar_is_refused(tmp_path_factory, sidecar, data):
    """Round 6's 7-c: a sidecar with `head` given twice was read with the last one winning silently."""
    text = json.dumps(sidecar)
    objects = [index for index, char in enumerate(text) if char == "{" and text[index + 1] == '"']
    at = data.draw(st.sampled_from(objects))  # a non-empty object of the sidecar: its first entry is repeated
    end = text.find("}", at)
    first = text[at + 1:text.index(",", at) if "," in text[at:end] else end]
    doubled = text[:at + 1] + first + ", " + text[at + 1:]
    path = tmp_path_factory.mktemp("twice") / "model.head.json"
    path.write_text(doubled)
    with pytest.raises(CorruptDataError, match="given twice") as refused:
        read_sidecar(path)
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(0, 3000))
def test_test_turns_are_bounded(tmp_path_factory, count):
    """Round 6's 7-e: 3,000 test_turns made `predict` of three images run for minutes (a pass per turn)."""
    from trainers.clock.predict import MAX_TEST_TURNS

    path = tmp_path_factory.mktemp("turns") / "model.head.json"
    path.write_text(json.dumps({"head": "periodic", "options": {}, "input": {"test_turns": [1.0] * count}}))
    try:
        _, preparation = read_sidecar(path)
    except CorruptDataError as error:
        assert count > MAX_TEST_TURNS and "input.test_turns" in str(error)
        return
    assert count <= MAX_TEST_TURNS and len(preparation.test_turns) == count


def test_a_model_path_that_is_a_directory_is_named_so(tmp_path):
    """Round 6's 7-b: `predict --model m` (a folder) said its sidecar `m.head.json` was missing."""
    from trainers.clock.predict import load_clock_model

    (tmp_path / "m").mkdir()
    with pytest.raises(CorruptDataError, match="is a directory"):
        load_clock_model(tmp_path / "m")


HEAD_CHOICES = [("regression", {}), ("periodic", {}), ("two_circle", {}), ("multi_head", {}),
                ("hands", {}), ("hands", {"hour_decoding": "given_minute"}), ("classification", {"classes": 24}),
                ("classification", {"classes": 72}), ("classification", {"classes": 144})]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=12, deadline=None)
@given(trained=st.sampled_from(HEAD_CHOICES), named=st.sampled_from(HEAD_CHOICES))
def test_a_sidecar_naming_another_head_than_the_models_is_refused(tmp_path_factory, trained, named):
    """Round 6's 7-d: a `hands` model whose sidecar said `regression` was read as regression (another mean error,
    no word). The sidecar's head must build the model's own output layers; its decoding options may differ."""
    import keras

    from trainers.clock.heads import make_head
    from trainers.clock.predict import head_path, load_clock_model, output_signature, save_clock_model

    head = make_head(trained[0], **trained[1])
    images = keras.Input((8, 8, 1))
    model = keras.Model(images, head.output(keras.layers.Flatten()(images)))
    path = save_clock_model(model, head, tmp_path_factory.mktemp("head") / "model.keras")
    head_path(path).write_text(json.dumps({"head": named[0], "options": named[1], "input": {}}))
    other = make_head(named[0], **named[1])
    probe = keras.Input((4,))
    same_layers = output_signature(keras.Model(probe, other.output(probe))) == output_signature(model)
    try:
        _, read, _ = load_clock_model(path)
    except CorruptDataError as error:
        assert not same_layers and "the sidecar is not this model's" in str(error) and "\n" not in str(error)
        return
    assert same_layers and read.name == named[0] and read.units == head.units
    assert (trained[0] == named[0]) and (trained[0] != "classification" or trained[1] == named[1])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sidecar=st.sampled_from(SIDECARS), dropped=st.sets(st.sampled_from(SIDECAR_KEYS), min_size=1))
def test_a_sidecar_missing_any_key_is_refused_naming_it(tmp_path_factory, sidecar, dropped):
    """Round 7's 7-c: `{"head": "periodic"}` was read with default options and input preparation, which for a model
    trained on localised dials prepares every photograph otherwise than it was trained."""
    path = tmp_path_factory.mktemp("missing") / "model.head.json"
    path.write_text(json.dumps({key: value for key, value in sidecar.items() if key not in dropped}))
    with pytest.raises(CorruptDataError) as refused:
        read_sidecar(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message
    assert "head" in dropped or f": {min(dropped, key=SIDECAR_KEYS.index)}: missing" in message, message
