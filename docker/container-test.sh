#!/usr/bin/env bash
# `make docker-test`: build docker/Dockerfile (unmodified) with podman or docker, run its entrypoint, run a
# 2-trial study with --network=none on a bind-mounted run directory, check the trials from the host, and check
# that the dashboard container stops on SIGTERM when run with --init.
#
# Base image: python:3.11-slim is pulled when a registry is reachable; otherwise (offline CI) a stand-in with
# the same tag is built from Debian with mmdebstrap (python3 + pip, pip allowed to install system-wide).
# Behind a TLS-intercepting proxy, point SWEEPLAB_CA_BUNDLE (default: $PIP_CERT,
# $SSL_CERT_FILE, else Debian's bundle) at the CA bundle: it is mounted into the build's
# RUN steps (with a pip.conf naming it), never copied into the image.
#
# Environment: ENGINE (podman|docker; default: whichever works), IMAGE (default sweeplab:cpu), PYTHON (host
# Python with the project, default .venv/bin/python), SWEEPLAB_DATA_DIR (the MNIST mirror), SWEEPLAB_CA_BUNDLE.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-sweeplab:cpu}"
BASE="docker.io/library/python:3.11-slim"
PYTHON="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d /tmp/sweeplab-container-test.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
say() { printf '[docker-test %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

if [ -z "${ENGINE:-}" ]; then
  if command -v podman >/dev/null; then ENGINE=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker
  else echo "docker-test: neither podman nor a running docker engine found (apt-get install podman runc)" >&2; exit 1
  fi
fi
build_mounts=()
if [ "$ENGINE" = podman ]; then
  # runc (crun refuses hybrid cgroup v1 hosts) and ulimits no higher than this host's hard limits (nproc also
  # no higher than kernel.pid_max: runc's setrlimit is refused above it on this kind of machine).
  nproc="$(ulimit -Hu)"; pid_max="$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "$nproc")"
  [ "$nproc" != unlimited ] && [ "$nproc" -le "$pid_max" ] || nproc="$pid_max"
  nofile="$(ulimit -Hn)"; [ "$nofile" != unlimited ] || nofile=1048576
  cat > "$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF="$work/containers.conf"
  ca="${SWEEPLAB_CA_BUNDLE:-${PIP_CERT:-${SSL_CERT_FILE:-}}}"
  [ -n "$ca" ] || [ ! -f /etc/ssl/certs/ca-certificates.crt ] || ca=/etc/ssl/certs/ca-certificates.crt  # Debian's
  if [ -n "$ca" ]; then
    printf '[global]\ncert = /run/sweeplab-ca.crt\n' > "$work/pip.conf"
    build_mounts=(-v "$ca:/run/sweeplab-ca.crt:ro" -v "$work/pip.conf:/etc/pip.conf:ro")
  fi
fi

if ! $ENGINE image inspect "$BASE" >/dev/null 2>&1; then
  say "pulling $BASE"
  if ! timeout 120 $ENGINE pull -q "$BASE" >/dev/null 2>&1; then
    say "no registry: building a stand-in $BASE from Debian bookworm with mmdebstrap"
    command -v mmdebstrap >/dev/null || { echo "docker-test: apt-get install mmdebstrap" >&2; exit 1; }
    mmdebstrap --quiet --variant=minbase --include=python3,python3-pip,ca-certificates \
      --aptopt='Apt::Install-Recommends "false"' \
      --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
      --customize-hook='ln -sf python3 "$1"/usr/bin/python' \
      bookworm "$work/base.tar" ${SWEEPLAB_APT_SOURCES:-}
    $ENGINE import --change 'CMD ["python3"]' "$work/base.tar" "$BASE" >/dev/null
    rm -f "$work/base.tar"
  fi
fi

say "building $IMAGE from docker/Dockerfile with $ENGINE"
$ENGINE build "${build_mounts[@]}" -f docker/Dockerfile -t "$IMAGE" .
say "built: $($ENGINE image inspect "$IMAGE" --format '{{.Size}}') bytes"

say "entrypoint (sweeplab agent --help)"
$ENGINE run --rm --network=none "$IMAGE" --help | grep -q -- "--storage"

say "a 2-trial study with --network=none on a bind-mounted run directory"
runs="$work/runs"
mkdir -p "$runs"
cat > "$runs/container-tiny.yaml" <<'EOF'
study: container-tiny
task: classify
fixed: {dataset: mnist, model: geron_mlp, epochs: 1, subset: 300, test_subset: 200, dense_layers: 1, dense_units: 16}
space:
  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
objective: val/accuracy
sampler: {name: random}
pruner: none
budget: {trials: 2}
EOF
chown -R 10001 "$runs" 2>/dev/null || chmod -R a+rwX "$runs"  # the image's user (uid 10001) writes here
data="${SWEEPLAB_DATA_DIR:-../shared/data}"
[ -d "$data/mnist" ] || { echo "docker-test: MNIST mirror not found at $data (set SWEEPLAB_DATA_DIR)" >&2; exit 1; }
$ENGINE run --rm --network=none -v "$runs:/runs" -v "$(cd "$data" && pwd):/data:ro" -e SWEEPLAB_OFFLINE=1 \
  "$IMAGE" /runs/container-tiny.yaml --storage journal:////runs/study.log --trials 2
"$PYTHON" - "$runs/study.log" <<'EOF'
import sys

import optuna

from sweeps.storage import open_storage

study = optuna.load_study(study_name="container-tiny", storage=open_storage(f"journal://{sys.argv[1]}"))
states = [(trial.number, trial.state.name, trial.value) for trial in study.trials]
print("final trial states:", states)
assert [state for _, state, _ in states] == ["COMPLETE", "COMPLETE"], states
assert all(0.0 <= value <= 1.0 for _, _, value in states), states
EOF
ls "$runs"/container-tiny/*/metrics.json >/dev/null 2>&1 || ls -R "$runs" | head -20

say "dashboard container with --init stops on SIGTERM"
name="sweeplab-dashboard-test-$$"
$ENGINE run -d --init --name "$name" --network=none -v "$runs:/runs" --entrypoint optuna-dashboard "$IMAGE" \
  --host 0.0.0.0 --port 8080 sqlite:////runs/dashboard.db >/dev/null
sleep 5
$ENGINE stop -t 30 "$name" >/dev/null
code="$($ENGINE inspect "$name" --format '{{.State.ExitCode}}')"
$ENGINE rm "$name" >/dev/null
say "dashboard exit code after SIGTERM: $code"
[ "$code" != 137 ] || { echo "docker-test: the dashboard ignored SIGTERM and was killed" >&2; exit 1; }
say "ok"
