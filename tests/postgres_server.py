"""A throwaway PostgreSQL server on loopback for tests: initdb + pg_ctl into a temporary directory.

Needs Debian's server binaries (`apt-get install postgresql`). initdb refuses to run as root, so as root the
server runs as the `postgres` user (via runuser) in a directory it owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_server(database: str = "sweeplab") -> Iterator[str]:
    """Start a server, create `database`, yield its `postgresql+psycopg://` URL, stop and delete it after."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    workdir = Path(tempfile.mkdtemp(prefix="sweeplab-pg-"))
    data, sockets = workdir / "data", workdir / "socket"
    sockets.mkdir()
    if as_root:
        user = pwd.getpwnam("postgres")
        workdir.chmod(0o755)
        for path in (workdir, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = _free_port()

    def run(*argv: str) -> None:
        subprocess.run([*prefix, *argv], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = f"-p {port} -k {sockets} -h 127.0.0.1 -c fsync=off -c max_connections=50"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "server.log"), "-w",
            "-t", "60", "start")
        try:
            run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database)
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
        finally:
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
