"""Round 8's findings (docs/adversarial/round-8.md), each closed at its door and tested with generated inputs: an
output never replaces the command's own input (5-a), a closed stdout or stderr (4-a), a preview path OpenCV cannot
write (5-c, 7-b), the stored refit record read against its schema (3-a), a study deleted under a running command
(3-b), a trial that never beat (3-c), `--refit-set` of a searched parameter (6-a)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState
from test_agents_kill import write_study

from sweeplab.cli import main
from sweeps.optuna_study import create_study
from sweeps.spec import load_spec
from sweeps.storage_faults import OWN_ATTRS, StorageCorruptError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=12)


@FIXTURES
@given(how=st.sampled_from(["same name", "symbolic link", "hard link"]))
def test_wandb_sweep_never_writes_over_its_study_file(how, tmp_path_factory, capsys):
    """5-a: a study file named `STUDY.wandb.yaml`, written to `--out` its own folder, was replaced by the generated
    file (exit 0): the user's study was gone."""
    folder = tmp_path_factory.mktemp("wandb")
    study = write_study(folder)
    output = folder / "agents-tiny.wandb.yaml"
    if how == "same name":
        study = study.rename(output)
    elif how == "symbolic link":
        output.symlink_to(study)
    else:
        os.link(study, output)
    before = study.read_bytes()
    capsys.readouterr()
    code = main(["wandb-sweep", str(study), "--out", str(folder), "--no-create"])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and "which this command reads" in error[0], error
    assert study.read_bytes() == before


@pytest.mark.parametrize("closed", ["stdout", "stderr", "both"])
def test_a_command_with_its_output_closed_ends_without_a_traceback(closed, tmp_path):
    """4-a: `sweep ... >&-` trained every trial, then ended with `AttributeError: 'NoneType' object has no attribute
    'flush'` and exit 1. Round 13's 7-a: with stdout closed, `best` printed nothing and exited 0; now a closed stdout
    refuses the command before it does anything (exit 2), a closed stderr alone does not stop it."""
    redirect = {"stdout": ">&-", "stderr": "2>&-", "both": ">&- 2>&-"}[closed]
    command = f"{sys.executable} -m sweeplab wandb-sweep {write_study(tmp_path)} --out {tmp_path} --no-create"
    result = subprocess.run(["bash", "-c", f"{command} {redirect}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    if closed == "stderr":
        assert result.returncode == 0 and (tmp_path / "agents-tiny.wandb.yaml").is_file()
    else:
        assert result.returncode == 2 and not (tmp_path / "agents-tiny.wandb.yaml").exists()
        assert closed == "both" or "standard output is closed" in result.stderr


@FIXTURES
@given(name=st.one_of(st.sampled_from(["preview.db", "images.npy", "p.PNG.txt", "dir"]),
                      st.text(st.characters(whitelist_categories=["Ll", "Nd"]), min_size=1, max_size=8)))
def test_a_preview_name_opencv_cannot_write_is_refused_before_rendering(name, tmp_path_factory, capsys):
    """5-c, 7-b: `clocks render --preview x.db` (or a directory) wrote the arrays, then failed with an OpenCV
    internal error. The name is checked first: nothing is written."""
    folder = tmp_path_factory.mktemp("preview")
    if name == "dir":
        (folder / "dir").mkdir()
    preview = folder / name
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        main(["clocks", "render", "--n", "2", "--out", str(folder / "out"), "--preview", str(preview)])
    assert refused.value.code == 2 and "--preview" in capsys.readouterr().err
    assert not (folder / "out").exists()


GOOD = {"trial": 0, "search_value": 0.5, "config": {"learning_rate": 0.01}, "metrics": {"test/accuracy": 0.9,
                                                                                         "test/loss": 0.3},
        "run_dir": "runs/s/refit-0000", "model": "runs/s/refit-0000/model.keras", "seconds": 2.0, "finished_at": 1.0}
FORGERIES = st.one_of(
    st.sampled_from([5, "x", None, [1]]),
    st.sampled_from(["trial", "config", "metrics", "model", "run_dir", "seconds", "below_search"]).flatmap(
        lambda key: st.sampled_from([None, "zero", -1, 999, 5.0, {"a": 1}, "/etc/passwd", True]).map(
            lambda value: {**GOOD, key: value})),
    st.sampled_from(["test/accuracy", "val/accuracy", "test/loss", "time/seconds"]).flatmap(
        lambda metric: st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.booleans()).map(
            lambda value: {**GOOD, "metrics": {**GOOD["metrics"], metric: value}})))


@FIXTURES
@given(record=FORGERIES)
def test_a_stored_refit_is_read_only_when_it_is_one_a_refit_writes(record, tmp_path_factory):
    """3-a: a `refit` study attribute set through Optuna's API to another shape was an internal error in `best` and
    `report`; a forged one with `test/accuracy 5` and `model: /etc/passwd` was printed as the study's refit."""
    from sweeps.best import refit_problem, refit_record
    from sweeps.search_options import metric_range

    study = create_study(load_spec(str(write_study(tmp_path_factory.mktemp("refit")))),
                         optuna.storages.InMemoryStorage())
    study.add_trial(optuna.trial.create_trial(params={"learning_rate": 0.01}, value=0.5, distributions={
        "learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)}))
    study.set_user_attr("refit", record)
    metrics = record.get("metrics") if isinstance(record, dict) else None
    sound = (isinstance(record, dict) and record.get("trial") == 0 and not isinstance(record.get("trial"), bool)
             and isinstance(record.get("config"), dict) and isinstance(metrics, dict)
             and all(isinstance(value, (int, float)) and not isinstance(value, bool)
                     and (value != value or abs(value) == float("inf")
                          or metric_range(name)[0] <= value <= metric_range(name)[1])
                     for name, value in metrics.items())
             and record.get("run_dir") == GOOD["run_dir"] and record.get("model") in (None, GOOD["model"])
             and all(isinstance(record.get(key), (int, float)) and not isinstance(record.get(key), bool)
                     for key in ("seconds", "search_value", "finished_at") if record.get(key) is not None)
             and isinstance(record.get("below_search", False), bool))
    assert (refit_problem(study, record) is None) == sound
    if sound:
        assert refit_record(study) == record
    else:
        with pytest.raises(StorageCorruptError, match="its stored refit") as refused:
            refit_record(study)
        assert "\n" not in str(refused.value)


@FIXTURES
@given(backend=st.sampled_from(["sqlite", "journal"]), call=st.sampled_from(["get_all_trials", "set_study_user_attr",
                                                                              "get_study_user_attrs"]))
def test_a_study_deleted_under_a_running_command_is_named(backend, call, tmp_path_factory):
    """3-b: Optuna's `delete_study` on a journal while a sweep ran ended it with `internal error: KeyError`."""
    from sweeps.storage import open_storage

    folder = tmp_path_factory.mktemp("deleted")
    url = f"sqlite:///{folder / 's.db'}" if backend == "sqlite" else f"journal:///{folder / 's.log'}"
    study = create_study(load_spec(str(write_study(folder))), url)
    outside = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "s.log"))) \
        if backend == "journal" else url
    optuna.delete_study(study_name=study.study_name, storage=outside)
    storage = open_storage(url)
    arguments = {"get_all_trials": (study._study_id,), "set_study_user_attr": (study._study_id, "k", 1),
                 "get_study_user_attrs": (study._study_id,)}[call]
    with pytest.raises(StorageCorruptError, match=f"study id {study._study_id} no longer exists"):
        getattr(storage, call)(*arguments)


@FIXTURES
@given(age=st.integers(0, 600), beaten=st.booleans())
def test_a_trial_that_never_beat_is_failed_and_requeued_after_the_grace(age, beaten, tmp_path_factory, monkeypatch):
    """3-c: a trial asked for by another program through Optuna never beats; Optuna's SQL check looks only at trials
    that beat, so it stayed RUNNING for ever. After the grace period it is stale like a dead agent's."""
    from sweeps.storage import open_storage

    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", "60")
    monkeypatch.setenv("SWEEPLAB_GRACE_SECONDS", "180")
    folder = tmp_path_factory.mktemp("silent")
    url = f"sqlite:///{folder / 's.db'}"
    study = create_study(load_spec(str(write_study(folder))), url)
    outside = optuna.load_study(study_name=study.study_name, storage=url).ask({"learning_rate":
        optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)})
    storage = open_storage(url)
    if beaten:
        storage.record_heartbeat(outside._trial_id)
    import sqlite3

    started = datetime.datetime.now() - datetime.timedelta(seconds=age)
    with sqlite3.connect(folder / "s.db") as connection:
        connection.execute("UPDATE trials SET datetime_start = ? WHERE trial_id = ?",
                           (started.isoformat(sep=" "), outside._trial_id))
    optuna.storages.fail_stale_trials(optuna.load_study(study_name=study.study_name, storage=storage))
    states = {trial.number: trial.state for trial in optuna.load_study(study_name=study.study_name,
                                                                      storage=url).trials}
    silent_and_old = not beaten and age > 180 + 5  # seconds of slack for the test's own run
    if silent_and_old:
        assert states[outside.number] == TrialState.FAIL and TrialState.WAITING in states.values()
    elif beaten or age < 180 - 5:
        assert states[outside.number] == TrialState.RUNNING


@FIXTURES
@given(key=st.sampled_from(["learning_rate", "batch_size", "epochs", "subset"]))
def test_refit_set_of_a_searched_parameter_is_refused(key, tmp_path_factory, capsys):
    """6-a: `refit --refit-set learning_rate=0.5` trained 0.5 and stored it as the best trial's refit."""
    study = write_study(tmp_path_factory.mktemp("refitset"))
    value = {"learning_rate": "0.5", "batch_size": "64", "epochs": "2", "subset": "200"}[key]
    capsys.readouterr()
    code = main(["refit", str(study), "--storage", f"sqlite:///{study.parent / 'absent.db'}",
                 "--refit-set", f"{key}={value}"])
    error = capsys.readouterr().err.strip().splitlines()
    searched = key in {"learning_rate", "batch_size"}
    assert code == 2 and len(error) == 1
    assert ("a searched parameter" in error[0]) == searched, error


@FIXTURES
@given(names=st.lists(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1,
                              max_size=10), min_size=1, max_size=3, unique=True))
def test_study_names_from_the_storage_reach_the_terminal_one_line_each(names, tmp_path_factory, capsys):
    """5-d: a study named `"\\x1b[2J..."` cleared the terminal in `studies`; one named `"two\\nlines"` split a row."""
    url = f"sqlite:///{tmp_path_factory.mktemp('names') / 's.db'}"
    for name in names:
        optuna.create_study(study_name=name, storage=url)
    capsys.readouterr()
    assert main(["studies", "--storage", url]) == 0
    out = capsys.readouterr().out.split("studies in storage:\n", 1)[1].splitlines()
    assert len(out) == len(names) and all(line.isprintable() for line in out), out


@FIXTURES
@given(name=st.sampled_from(["SWEEPLAB_RUNS_DIR", "SWEEPLAB_DATA_DIR", "SWEEPLAB_CACHE_DIR"]),
       kind=st.sampled_from(["file", "under a file", "folder", "new folder", "/proc/self/fd", "/dev/shm/sweeplab"]),
       depth=st.integers(1, 3))
def test_a_folder_setting_naming_a_file_stops_every_command_at_its_start(name, kind, depth, tmp_path_factory, capsys):
    """5-e: `SWEEPLAB_RUNS_DIR=a-file` was found only by the first trial, which failed and was stored; round 10's
    6-b/6-c: a runs folder under a file, or among the system's own files, failed every trial without naming it."""
    folder = tmp_path_factory.mktemp("setting")
    target = {"file": folder / "a-file", "under a file": folder.joinpath("a-file", *["x"] * depth),
              "folder": folder / "a-folder", "new folder": folder.joinpath(*["new"] * depth),
              "/proc/self/fd": Path("/proc/self/fd"), "/dev/shm/sweeplab": Path("/dev/shm/sweeplab")}[kind]
    if kind in ("file", "under a file"):
        (folder / "a-file").write_text("x")
    elif kind == "folder":
        target.mkdir()
    refused = kind in ("file", "under a file") or (kind == "/proc/self/fd" and name != "SWEEPLAB_DATA_DIR")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(name, str(target))
        capsys.readouterr()
        code = main(["datasets"])
    error = capsys.readouterr().err.strip().splitlines()
    assert (code, len(error)) == ((2, 1) if refused else (0, 0)), error
    assert not refused or error[0].startswith(f"sweeplab: error: ${name}=")


@pytest.mark.parametrize(("host", "good"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("bad host", False), ("", False), ("300.1.1.1", False),
                                            ("exa mple.org", False), ("a\u2028b", False)])
def test_a_dashboard_host_is_checked_before_anything_listens(host, good, capsys):
    """6-b: `--host 'bad host'` printed 'Listening on http://bad host:8080/' and then failed without naming it."""
    from sweeplab.cli import build_parser

    if good:
        assert build_parser().parse_args(["dashboard", "--host", host]).host == host
        return
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dashboard", "--host", host])
    assert "--host" in capsys.readouterr().err


@FIXTURES
@given(cut=st.one_of(st.none(), st.integers(0, 2000), st.just(-1)))
def test_a_refit_whose_model_was_damaged_is_not_current(cut, tmp_path_factory):
    """7-c: a refit whose model.keras had been cut to 1,000 bytes was reported as current; `refit` trained nothing."""
    import zipfile

    from sweeps.refit import is_current

    folder = tmp_path_factory.mktemp("refitmodel")
    study = create_study(load_spec(str(write_study(folder))), optuna.storages.InMemoryStorage())
    study.add_trial(optuna.trial.create_trial(params={"learning_rate": 0.01}, value=0.5, distributions={
        "learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)}))
    run_dir = folder / "refit-0000"
    run_dir.mkdir()
    model = run_dir / "model.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{}" * 800)
    whole = model.read_bytes()
    if cut == -1:
        model.unlink()
    elif cut is not None:
        model.write_bytes(whole[:cut])
    config = {"learning_rate": 0.01}
    study.set_user_attr("refit", {"trial": 0, "config": config, "metrics": {"test/accuracy": 0.9},
                                  "run_dir": str(run_dir), "model": str(model)})
    intact = cut is None or (cut != -1 and cut >= len(whole))
    assert is_current(study, study.trials[0], config) == intact


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=10)
@given(finding=st.sampled_from(["transfer", "optimizers", "permutation", "clock-representations"]),
       text=st.one_of(st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")),
                      st.lists(st.sampled_from(["a,b", "1,2", "family,seed", "x", "", "NaN,abc"]), max_size=4).map(
                          "\n".join)))
def test_an_edited_evaluations_table_is_one_line_never_an_internal_error(finding, text, tmp_path_factory, capsys):
    """7-a: `results claims --out` over a folder whose transfer/evaluations.csv held garbage: `internal error:
    KeyError: 'family'`."""
    import shutil

    out = tmp_path_factory.mktemp("results") / "results"
    shutil.copytree(ROOT / "results", out)
    (out / finding / "evaluations.csv").write_bytes(text.encode("latin-1"))
    capsys.readouterr()
    code = main(["results", "claims", "--out", str(out)])
    error = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("== ")]  # progress
    assert code in (0, 2) and not any("internal error" in line or "Traceback" in line for line in error), error
    if code == 2:
        assert len(error) == 1 and "evaluations.csv" in error[0], error


@FIXTURES
@given(optimizer=st.sampled_from(["sgd", "adam", "adamw", "nadam", "rmsprop"]), momentum=st.floats(0.0, 0.95))
def test_a_wandb_run_uses_a_conditional_parameter_only_when_its_condition_holds(optimizer, momentum,
                                                                                 tmp_path_factory):
    """7-d: W&B has no conditions, so every W&B run trained a `momentum` the Optuna study samples only for SGD. The
    generated file says so; a run's config holds the value only when the condition holds, as an Optuna trial's."""
    from sweeps.wandb_sweep import config_from_wandb, write_wandb_sweep

    spec = load_spec("fashion-mlp-user")
    config = config_from_wandb(spec, {"optimizer": optimizer, "momentum": momentum, "learning_rate": 0.01})
    assert ("momentum" in config) == (optimizer == "sgd") and config["optimizer"] == optimizer
    header = write_wandb_sweep(spec, tmp_path_factory.mktemp("wandb")).read_text().splitlines()[1]
    assert header.startswith("# momentum: W&B samples it always; a run uses it only when optimizer in ['sgd']")


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=4),
                        st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                  max_size=2))


@FIXTURES
@given(key=st.sampled_from(sorted(OWN_ATTRS)), value=JSON_VALUES)
def test_a_sweeplab_trial_attribute_of_another_type_is_damage(key, value, tmp_path_factory):
    """3-g: `promoted_from` set to "x" by hand took trial #1 out of `best`'s table without a word. Every attribute
    sweeplab writes and reads back is read with its type: another is refused in one line naming it."""
    from sweeps.storage import open_storage

    url = f"sqlite:///{tmp_path_factory.mktemp('attrs') / 's.db'}"
    study = create_study(load_spec(str(write_study(tmp_path_factory.mktemp('file')))), url)
    trial = study.ask()
    outside = optuna.storages.RDBStorage(url)  # another program, not through the gateway
    outside.set_trial_user_attr(trial._trial_id, key, value)
    kind = OWN_ATTRS[key]
    sound = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if sound:
        assert open_storage(url).get_trial(trial._trial_id).user_attrs[key] == value
        return
    with pytest.raises(StorageCorruptError, match=f"has attribute {key!r} that is not {kind.__name__}"):
        open_storage(url).get_trial(trial._trial_id)
