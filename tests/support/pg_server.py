"""A throw-away PostgreSQL cluster for tests and benchmarks.

``TempPostgres`` runs ``initdb`` into a temporary directory, starts the server with ``pg_ctl`` on a free
TCP port on 127.0.0.1 (plus a unix socket inside the temporary directory), with durability switched off
for speed, and hands out SQLAlchemy async URLs (``postgresql+asyncpg://USER@127.0.0.1:PORT/DB``, trust
authentication).  Everything is stopped and removed by ``stop()``, by the context manager, at interpreter
exit (``atexit``) and, if the owning process dies without cleaning up (SIGKILL, CI timeout), by a small
watchdog process that notices the end of a pipe.

PostgreSQL refuses to run as root: when the current user is root the cluster is run as the ``postgres``
system user (or ``nobody`` when that does not exist).

CLI (for benchmarks / manual work)::

    python -m tests.support.pg_server [--port N]

prints the URL on stdout and keeps the server running until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

SUPERUSER = "jaganetral"
DEFAULT_DB = "jaganetral"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_START_ATTEMPTS = 5
_PG_CTL_TIMEOUT_S = 60

_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "max_locks_per_transaction": "128",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
    "logging_collector": "off",
    "ssl": "off",
    "timezone": "'UTC'",
}

# Run by the watchdog process (stdin is the read end of a pipe held by the owner process).
_WATCHDOG = r"""
import os, shutil, subprocess, sys
pg_ctl, data_dir, base_dir = sys.argv[1:4]
user = int(sys.argv[4]) if len(sys.argv) > 4 else None
group = int(sys.argv[5]) if len(sys.argv) > 5 else None
try:
    sys.stdin.buffer.read()
except BaseException:
    pass
if os.path.isdir(data_dir):
    kw = {"user": user, "group": group, "extra_groups": []} if user is not None else {}
    subprocess.run([pg_ctl, "-D", data_dir, "-m", "immediate", "-w", "-t", "30", "stop"], cwd=base_dir,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, **kw)
shutil.rmtree(base_dir, ignore_errors=True)
"""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL server binaries (initdb, pg_ctl) cannot be found or cannot be used here."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PostgresStartError(RuntimeError):
    """The binaries exist but the temporary cluster could not be created or started."""


def find_pg_bin() -> Path | None:
    """Directory holding ``initdb`` and ``pg_ctl``.

    Order: ``$JAGANETRAL_PG_BIN``; the newest ``/usr/lib/postgresql/*/bin`` (Debian/Ubuntu layout);
    ``pg_config --bindir``; the directory of ``initdb`` found on ``PATH`` (symlinks resolved).
    """
    candidates: list[Path] = []
    env = os.environ.get("JAGANETRAL_PG_BIN")
    if env:
        candidates.append(Path(env))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if p.name.replace(".", "").isdigit()]
        versions.sort(key=lambda p: tuple(int(x) for x in p.name.split(".")), reverse=True)
        candidates.extend(p / "bin" for p in versions)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
        candidates.append(Path(initdb).parent)
    for cand in candidates:
        if all(os.access(cand / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return cand
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"invalid database name: {name!r} (letters, digits, underscore; max 63)")
    return '"' + name + '"'


def _run_in_thread(coro_factory: Any) -> Any:
    """Run an async callable to completion in a private event loop (safe inside a running loop)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro_factory())
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="pg-admin", daemon=True)
    thread.start()
    thread.join(120)
    if thread.is_alive():
        raise TimeoutError("PostgreSQL admin command did not finish within 120 s")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def admin_execute(dsn: str, *statements: str) -> None:
    """Execute statements outside a transaction (``CREATE DATABASE`` …) with a plain asyncpg connection.

    ``dsn`` may be a SQLAlchemy URL (``postgresql+asyncpg://``) or a libpq one (``postgresql://``).
    """
    import asyncpg

    plain = re.sub(r"^postgresql\+\w+://", "postgresql://", dsn)

    async def go() -> None:
        conn = await asyncpg.connect(plain, timeout=30)
        try:
            for stmt in statements:
                await conn.execute(stmt)
        finally:
            await conn.close()

    _run_in_thread(go)


def _with_database(url: str, name: str) -> str:
    """Replace the database part of ``url``."""
    base, _, _db = url.rpartition("/")
    if "://" not in base:
        raise ValueError(f"not a database URL: {url!r}")
    return f"{base}/{name}"


class ExternalPostgres:
    """The ``TempPostgres`` database API on top of an existing server (``JAGANETRAL_TEST_PG_URL``).

    ``url`` must name a role that may create databases; ``stop()`` drops the databases created here.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._created: list[str] = []

    def start(self) -> str:
        admin_execute(self.url, "SELECT 1")
        return self.url

    def url_for(self, name: str) -> str:
        return _with_database(self.url, name)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        stmt = f"CREATE DATABASE {_quote_ident(name)}"
        if template:
            stmt += f" TEMPLATE {_quote_ident(template)}"
        admin_execute(self.url, stmt)
        self._created.append(name)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        admin_execute(self.url, f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    def stop(self) -> None:
        while self._created:
            with contextlib.suppress(Exception):
                self.drop_database(self._created.pop())

    def __enter__(self) -> ExternalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TempPostgres:
    """A private PostgreSQL cluster in a temporary directory; see the module docstring."""

    def __init__(self, *, port: int | None = None) -> None:
        self._requested_port = port
        self.port: int | None = None
        self.bin_dir: Path | None = None
        self.base_dir: Path | None = None
        self.user = SUPERUSER
        self._run_as: tuple[int, int] | None = None
        self._url: str | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watchdog_fd: int | None = None
        self._lock = threading.Lock()

    # --- paths / state ---------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path | None:
        return None if self.base_dir is None else self.base_dir / "data"

    @property
    def socket_dir(self) -> Path | None:
        return None if self.base_dir is None else self.base_dir / "sock"

    @property
    def running(self) -> bool:
        return self._url is not None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("TempPostgres is not running: call start() first")
        return self._url

    def url_for(self, name: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{name}"

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Create and start the cluster; return the URL of its (empty) default database."""
        with self._lock:
            if self._url is not None:
                return self._url
            bin_dir = find_pg_bin()
            if bin_dir is None:
                raise PostgresUnavailable(
                    "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin, "
                    "pg_config --bindir or PATH; install them (Debian: apt-get install postgresql) "
                    "or set JAGANETRAL_PG_BIN"
                )
            self.bin_dir = bin_dir
            self._run_as = self._pick_user()
            self.base_dir = Path(tempfile.mkdtemp(prefix="jn-pg-", dir=self._tmp_parent()))
            atexit.register(self.stop)
            try:
                self._initdb()
                self._start_server()
                self._spawn_watchdog()
                self._url = self.url_for(DEFAULT_DB)
                admin_execute(self.url_for("postgres"), f"CREATE DATABASE {_quote_ident(DEFAULT_DB)}")
            except BaseException:
                self._teardown()
                raise
            return self._url

    def stop(self) -> None:
        """Stop the server and delete the temporary directory (idempotent)."""
        with self._lock:
            self._teardown()

    def __enter__(self) -> TempPostgres:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- databases -------------------------------------------------------------------------------

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (optionally copied from ``template``); return its URL."""
        self.url  # noqa: B018 - raises when not running
        stmt = f"CREATE DATABASE {_quote_ident(name)}"
        if template:
            stmt += f" TEMPLATE {_quote_ident(template)}"
        admin_execute(self.url_for("postgres"), stmt)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.url  # noqa: B018 - raises when not running
        admin_execute(self.url_for("postgres"), f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    # --- internals -------------------------------------------------------------------------------

    @staticmethod
    def _tmp_parent() -> str | None:
        env = os.environ.get("JAGANETRAL_PG_TMPDIR")
        if env:
            return env
        # The server user must be able to traverse the parent; keep the unix socket path short.
        if os.geteuid() == 0 and os.path.isdir("/tmp"):
            return "/tmp"
        return None

    @staticmethod
    def _pick_user() -> tuple[int, int] | None:
        if os.geteuid() != 0:
            return None
        import pwd

        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return entry.pw_uid, entry.pw_gid
        raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")

    def _env(self) -> dict[str, str]:
        assert self.base_dir is not None
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.base_dir),
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": "UTC",
        }

    def _run(self, args: list[str], *, timeout: float = _PG_CTL_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        assert self.base_dir is not None
        kwargs: dict[str, Any] = {}
        if self._run_as is not None:
            kwargs = {"user": self._run_as[0], "group": self._run_as[1], "extra_groups": []}
        return subprocess.run(
            args, cwd=self.base_dir, env=self._env(), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, **kwargs,
        )

    def _bin(self, name: str) -> str:
        assert self.bin_dir is not None
        return str(self.bin_dir / name)

    def _initdb(self) -> None:
        assert self.base_dir is not None and self.data_dir is not None and self.socket_dir is not None
        self.socket_dir.mkdir()
        if self._run_as is not None:
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, *self._run_as)
        proc = self._run([
            self._bin("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        ], timeout=120)
        if proc.returncode != 0:
            raise PostgresStartError(f"initdb failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")

    def _write_conf(self, port: int) -> None:
        assert self.data_dir is not None and self.socket_dir is not None
        settings = dict(_SERVER_SETTINGS, port=str(port), unix_socket_directories=f"'{self.socket_dir}'")
        if not os.access("/dev/shm", os.W_OK):
            settings["dynamic_shared_memory_type"] = "mmap"
        # postgresql.auto.conf is read after postgresql.conf and owned by the server user already.
        auto = self.data_dir / "postgresql.auto.conf"
        lines = ["# written by tests/support/pg_server.py"] + [f"{k} = {v}" for k, v in settings.items()]
        auto.write_text("\n".join(lines) + "\n")
        if self._run_as is not None:
            os.chown(auto, *self._run_as)

    def _start_server(self) -> None:
        assert self.base_dir is not None and self.data_dir is not None
        log = self.base_dir / "server.log"
        attempts = 1 if self._requested_port else _START_ATTEMPTS
        last = ""
        for _ in range(attempts):
            port = self._requested_port or free_port()
            self._write_conf(port)
            proc = self._run([
                self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(log), "-w",
                "-t", str(_PG_CTL_TIMEOUT_S), "start",
            ], timeout=_PG_CTL_TIMEOUT_S + 15)
            if proc.returncode == 0:
                self.port = port
                return
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            last = f"pg_ctl start failed ({proc.returncode}) on port {port}:\n{proc.stdout}{proc.stderr}\n{tail}"
            if "already in use" not in tail and "could not bind" not in tail:
                break
        raise PostgresStartError(last)

    def _spawn_watchdog(self) -> None:
        assert self.base_dir is not None and self.data_dir is not None
        read_fd, write_fd = os.pipe()
        args = [sys.executable, "-c", _WATCHDOG, self._bin("pg_ctl"), str(self.data_dir), str(self.base_dir)]
        if self._run_as is not None:
            args += [str(self._run_as[0]), str(self._run_as[1])]
        try:
            self._watchdog = subprocess.Popen(
                args, stdin=read_fd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,  # survives a Ctrl-C / SIGTERM sent to our process group
            )
        finally:
            os.close(read_fd)
        self._watchdog_fd = write_fd

    def _teardown(self) -> None:
        self._url = None
        if self.base_dir is None:
            return
        data_dir = self.data_dir
        if data_dir is not None and (data_dir / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run([self._bin("pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "-t", "30", "stop"])
        shutil.rmtree(self.base_dir, ignore_errors=True)
        if self._watchdog_fd is not None:
            os.close(self._watchdog_fd)
            self._watchdog_fd = None
        if self._watchdog is not None:
            try:
                self._watchdog.wait(30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait(5)
            self._watchdog = None
        self.base_dir = None
        self.port = None
        atexit.unregister(self.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.pg_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = TempPostgres(port=args.port)
        url = server.start()
    except (PostgresUnavailable, PostgresStartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(url, flush=True)
        print(f"data: {server.data_dir}  (stop with Ctrl-C or SIGTERM)", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
