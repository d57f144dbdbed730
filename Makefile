# Every target is a thin wrapper over the `sweeplab` CLI and bootstraps .venv (+ Debian's Fashion-MNIST) when missing.
# Scale through variables only: make sweep TASK=fashion-cnn TRIALS=100 EPOCHS=30 SUBSET=0 STORAGE=postgresql://...
# ARGS passes any other CLI flags: make sweep TASK=clock ARGS="--wandb --set head=periodic"

PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
SWEEPLAB  := $(BIN)/sweeplab
TASK      ?= fashion-cnn
STUDY     ?= $(TASK)
TRIALS    ?=
EPOCHS    ?=
SUBSET    ?=
STORAGE   ?=
N         ?= 2
CLOCKS    ?= 18000
SETS      := $(if $(EPOCHS),--set epochs=$(EPOCHS)) $(if $(SUBSET),--set subset=$(SUBSET))
TRIALARG  := $(if $(TRIALS),--trials $(TRIALS))
STOREARG  := $(if $(STORAGE),--storage $(STORAGE))
ARGS      ?=
PYTEST_ARGS ?=
TEST_WORKERS ?= 2  # pytest-xdist processes, one file each at a time (0: in this process)

.PHONY: setup sweep run best studies dashboard report agent agents wandb-sweep wandb-local transfer permute results \
        clocks bench bench-studies bench-peers test fuzz lint docker-build docker-test slurm clean

$(VENV)/.installed: pyproject.toml
	@command -v apt-get >/dev/null && [ ! -d /usr/share/datasets/fashion-mnist ] && \
	  { $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q dataset-fashion-mnist \
	    || echo "note: could not install dataset-fashion-mnist; set SWEEPLAB_DATA_DIR or go online"; } || true
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

setup: $(VENV)/.installed  ## create .venv, install everything, install Debian's Fashion-MNIST

SWEEPS_VENV := .venv-sweeps
# W&B's open-source sweep engine pins numpy<2, so it lives in its own venv (used by wandb-sweep/wandb-local).
$(SWEEPS_VENV)/.installed:
	@[ -x $(SWEEPS_VENV)/bin/python ] || $(PYTHON) -m venv $(SWEEPS_VENV)
	$(SWEEPS_VENV)/bin/python -m pip install -q 'sweeps==0.3.0'
	@touch $@

sweep: setup  ## run an Optuna study: make sweep TASK=fashion-cnn [TRIALS= EPOCHS= SUBSET= STORAGE=]
	$(SWEEPLAB) sweep $(STUDY) $(TRIALARG) $(STOREARG) $(SETS) $(ARGS)

run: setup  ## one run of a task or study's fixed config: make run TASK=classify ARGS="--set model=keras_cnn"
	$(SWEEPLAB) run $(TASK) $(SETS) $(ARGS)

best: setup
	$(SWEEPLAB) best $(STUDY) $(STOREARG)

studies: setup
	$(SWEEPLAB) studies $(STOREARG)

dashboard: setup  ## optuna-dashboard on 127.0.0.1, same storage
	$(SWEEPLAB) dashboard $(STOREARG)

report: setup  ## static HTML report of every study under reports/
	$(SWEEPLAB) report $(STOREARG)

agent: setup  ## join a study from another node: make agent STUDY=clock STORAGE=postgresql://...
	$(SWEEPLAB) agent $(STUDY) $(STOREARG) $(TRIALARG) $(SETS) $(ARGS)

agents: setup  ## N agents on this machine/GPU: make agents STUDY=fashion-mlp N=4
	$(SWEEPLAB) agents $(STUDY) --n $(N) $(STOREARG) $(TRIALARG) $(SETS) $(ARGS)

slurm: setup  ## N agents as a Slurm job array: make slurm STUDY=fashion-mlp N=4 STORAGE=... ARGS="--partition gpu"
	$(SWEEPLAB) slurm $(STUDY) --agents $(N) $(STOREARG) $(TRIALARG) $(SETS) $(ARGS)

wandb-sweep: setup $(SWEEPS_VENV)/.installed  ## write sweeps/build/STUDY.wandb.yaml (and create the sweep when WANDB_API_KEY is set)
	$(SWEEPLAB) wandb-sweep $(STUDY)

wandb-local: setup $(SWEEPS_VENV)/.installed  ## run the W&B sweep with the open-source `sweeps` engine, no server needed
	$(SWEEPLAB) wandb-local $(STUDY) $(TRIALARG) $(SETS)

transfer: setup  ## which settings carry over from Fashion-MNIST to CIFAR-10 (= make results ARGS=transfer)
	$(SWEEPLAB) transfer $(ARGS)

permute: setup  ## MLP vs CNN on pixel-permuted MNIST / Fashion-MNIST (= make results ARGS=permutation)
	$(SWEEPLAB) permute $(ARGS)

results: setup  ## reproduce the findings into results/<finding>/ (resumable): make results ARGS="permutation claims"
	$(SWEEPLAB) results $(ARGS)

clocks: setup  ## render the clock dataset (course format): make clocks CLOCKS=18000
	$(SWEEPLAB) clocks render --n $(CLOCKS) --out runs/clocks --preview runs/clocks/preview.png

bench: setup  ## benchmarks -> benchmarks/results/*.json
	$(BIN)/python -m benchmarks.run_all

bench-studies: setup  ## what each CPU default gives: wall time, refit test accuracy (resumable; ~45 min)
	$(BIN)/python -m benchmarks.study_defaults fashion-cnn fashion-mlp keras-mnist-cnn cifar10-cnn

PEER_STUDY  ?= fashion-mlp-user
PEER_BUDGET ?= 300
bench-peers: setup  ## sweeplab vs KerasTuner (Hyperband, Bayesian), Optuna TPE and random search: a user space, no prior, 3 seeds (~80 min)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m benchmarks.peer_search --study $(PEER_STUDY) --budget $(PEER_BUDGET) --seeds 0,1,2 --peer-epochs 5

test: setup $(SWEEPS_VENV)/.installed  ## the test suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

fuzz: setup  ## the property-based tests (Hypothesis) with 1,000 generated examples each instead of CI's 25
	SWEEPLAB_FUZZ=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS) \
	  $(shell grep -l "from hypothesis" tests/test_*.py)

lint: setup
	$(BIN)/ruff check .

docker-test: setup  ## build docker/Dockerfile with podman (or docker), run a 2-trial study in it offline, check it
	PYTHON=$(BIN)/python bash docker/container-test.sh

docker-build:  ## needs a Docker engine (`make docker-test` builds the CPU image with podman)
	docker build -f docker/Dockerfile -t sweeplab:cpu .
	docker build -f docker/Dockerfile.gpu -t sweeplab:gpu .

clean:
	rm -rf runs reports sweeps/build .pytest_cache
