"""A throwaway one-node Slurm cluster for tests: munge, MariaDB + slurmdbd (so `sacct` works), slurmctld, slurmd.

Everything lives in a temporary directory with its own ports and munge socket, so a system Slurm (if any)
is untouched. Needs root (the daemons run as root, as in CI) and Debian's packages; `ensure_slurm()` installs
them with apt-get when they are missing and it may.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "slurmdbd", "munge", "mariadb-server")
BINARIES = ("munged", "slurmctld", "slurmd", "slurmdbd", "sbatch", "srun", "sacct", "sacctmgr", "scancel",
            "mariadbd", "mariadb-install-db", "mariadb")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
CLUSTER = "sweeplabtest"
PARTITION = "debug"
MAX_TIME_MINUTES = 30


def _which(name: str) -> str | None:
    return shutil.which(name, path=SBIN_PATH)


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if _which(name) is None]


def ensure_slurm() -> str | None:
    """None when a cluster can be started here; else why not (for pytest.skip). Installs missing packages."""
    if os.geteuid() != 0:
        return "the one-node Slurm cluster runs its daemons as root"
    if missing_binaries() and _which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
                       capture_output=True, text=True, timeout=600, check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    missing = missing_binaries()
    if missing:
        return f"Debian's Slurm packages could not be installed (apt-get install {' '.join(PACKAGES)}): " \
               f"missing {', '.join(missing)}"
    return None


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _wait(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise RuntimeError(f"slurm test cluster: {what} did not come up within {timeout:.0f} s")


def _stop(pid_file: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def slurm_conf(directory: Path, host: str, ports: list[int]) -> str:
    ctld, slurmd, dbd, _ = ports
    return f"""\
ClusterName={CLUSTER}
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={directory}/munge.sock
StateSaveLocation={directory}/state
SlurmdSpoolDir={directory}/spool
SlurmctldPidFile={directory}/slurmctld.pid
SlurmdPidFile={directory}/slurmd.pid
SlurmctldLogFile={directory}/slurmctld.log
SlurmdLogFile={directory}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd}
AccountingStoragePass={directory}/munge.sock
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
EnforcePartLimits=ALL
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
KillWait=30
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime={MAX_TIME_MINUTES} State=UP
"""


def slurmdbd_conf(directory: Path, ports: list[int]) -> str:
    _, _, dbd, mysql = ports
    return f"""\
AuthType=auth/munge
AuthInfo=socket={directory}/munge.sock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd}
SlurmUser=root
PidFile={directory}/slurmdbd.pid
LogFile={directory}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={mysql}
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
"""


@contextlib.contextmanager
def slurm_cluster() -> Iterator[dict[str, str]]:
    """Start the daemons; yield the environment for Slurm commands (SLURM_CONF, PATH); cancel jobs and stop all."""
    directory = Path(tempfile.mkdtemp(prefix="sweeplab-slurm-", dir="/tmp"))  # short: unix socket paths
    host = socket.gethostname().split(".")[0]
    ports = _free_ports(4)
    env = {**os.environ, "SLURM_CONF": str(directory / "slurm.conf"), "PATH": SBIN_PATH}
    pid_files = [directory / name for name in ("slurmd.pid", "slurmctld.pid", "slurmdbd.pid", "mariadb.pid",
                                               "munged.pid")]

    def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout, check=True)

    mariadb: subprocess.Popen | None = None
    try:
        for name in ("state", "spool", "db"):
            (directory / name).mkdir()
        (directory / "munge.key").write_bytes(os.urandom(1024))
        (directory / "munge.key").chmod(0o600)
        run(_which("munged"), f"--socket={directory}/munge.sock", f"--key-file={directory}/munge.key",
            f"--log-file={directory}/munged.log", f"--pid-file={directory}/munged.pid",
            f"--seed-file={directory}/munged.seed", "--force")
        run(_which("mariadb-install-db"), "--user=root", f"--datadir={directory}/db", "--skip-test-db",
            "--auth-root-authentication-method=normal", timeout=120)
        mariadb = subprocess.Popen([_which("mariadbd"), "--user=root", f"--datadir={directory}/db",
                          f"--socket={directory}/mysql.sock", f"--port={ports[3]}", "--bind-address=127.0.0.1",
                          f"--pid-file={directory}/mariadb.pid", f"--log-error={directory}/mariadb.err"],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        client = [_which("mariadb"), "-S", f"{directory}/mysql.sock", "-u", "root"]
        _wait(lambda: subprocess.run([*client, "-e", "select 1"], capture_output=True).returncode == 0, "MariaDB")
        run(*client, "-e", "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; "
                           "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';")
        (directory / "slurm.conf").write_text(slurm_conf(directory, host, ports))
        (directory / "slurmdbd.conf").write_text(slurmdbd_conf(directory, ports))
        (directory / "slurmdbd.conf").chmod(0o600)
        run(_which("slurmdbd"))
        _wait(lambda: subprocess.run(["sacctmgr", "-n", "list", "cluster"], env=env, capture_output=True)
              .returncode == 0, "slurmdbd")
        run("sacctmgr", "-i", "add", "cluster", CLUSTER)
        run(_which("slurmctld"), "-c", "-f", str(directory / "slurm.conf"))
        run(_which("slurmd"), "-f", str(directory / "slurm.conf"))
        _wait(lambda: subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
              .stdout.strip() == "idle", "the node (sinfo: idle)")
        yield env
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["scancel", "--full", "--signal=KILL", "-u", "root"], env=env, capture_output=True,
                           timeout=30)
            subprocess.run(["scancel", "-u", "root"], env=env, capture_output=True, timeout=30)
            _wait(lambda: not subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True)
                  .stdout.strip(), "an empty queue", timeout=30)
        for pid_file in pid_files:
            _stop(pid_file)
        if mariadb is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                mariadb.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)
