#!/usr/bin/env bash
# Per-trial overhead outside training, A/B: the low rung of sweeps/fashion-mlp-user.yaml (12 trials, no promotion,
# no refit) run by two checkouts in alternation. Overhead = (first trial's start to last trial's end - the trials'
# own time/train_seconds) / trials, read back from each run's SQLite storage.
#   bash benchmarks/trial_overhead_ab.sh /path/to/old-checkout /path/to/new-checkout [rounds]
set -euo pipefail
old=$1 new=$2 rounds=${3:-2}
python=$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python
study=$(mktemp -d)/overhead.yaml
grep -v "^promote\|^budget" "$new/sweeps/fashion-mlp-user.yaml" > "$study"
echo "budget: {trials: 12}" >> "$study"
for round in $(seq "$rounds"); do for arm in "$old" "$new"; do
  work=$(mktemp -d)
  (cd "$arm" && "$python" -m sweeplab sweep "$study" --no-refit --storage "sqlite:///$work/s.db" > "$work/log" 2>&1)
  "$python" - "$work/s.db" "$arm" "$round" <<'PY'
import sqlite3, sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
name = sqlite3.connect(sys.argv[1]).execute("select study_name from studies").fetchone()[0]
trials = [t for t in optuna.load_study(study_name=name, storage=f"sqlite:///{sys.argv[1]}").trials if t.datetime_complete]
span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
train = sum(t.user_attrs["metrics"]["time/train_seconds"] for t in trials)
print(f"{sys.argv[2]} round {sys.argv[3]}: {len(trials)} trials in {span:.1f} s, training {train:.1f} s, "
      f"overhead {(span - train) / len(trials):.2f} s a trial")
PY
done; done
