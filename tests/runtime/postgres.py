"""A throw-away PostgreSQL server for the test session.

``postgres_database`` (session-scoped pytest fixture) finds the server binaries, runs ``initdb`` in
a fresh temporary folder (trust authentication, no password), starts the server with ``pg_ctl`` on a
free port of 127.0.0.1 only (its unix socket stays inside the temporary folder, ``fsync=off`` since
the data is thrown away), creates one database and yields its Django ``DATABASES["default"]`` entry.
At teardown the server is stopped (``pg_ctl stop -m immediate``) and the folder deleted.

``initdb`` and ``postgres`` refuse to run as root. As root (containers, some CI runners) every server
command runs as an unprivileged user through ``runuser -u USER --`` (or ``setpriv`` when ``runuser``
is missing), and the temporary folder is handed to that user: ``nobody`` when it can own and write the
folder, else a system user created for the purpose.

When PostgreSQL cannot be found or started the fixture skips with a message saying what is missing and
how to install it; with ``DJS_REQUIRE_POSTGRES=1`` (set by .ci/run) it fails with that message instead.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:  # pwd is POSIX-only: imported where used, after the root check
    import pwd

REQUIRE_ENV = "DJS_REQUIRE_POSTGRES"
SERVER_COMMANDS = ("initdb", "pg_ctl", "postgres")
DEBIAN_LAYOUT = "/usr/lib/postgresql/*/bin"
INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql) "
    f"or put {', '.join(SERVER_COMMANDS)} on PATH"
)
SUPERUSER = "postgres"
DATABASE = "djs_test"
# Users that run the server when this process is root, in order of preference; the fallback one is
# created if missing (``nobody`` can be unusable, e.g. unmapped in a user namespace).
FALLBACK_USER = "djs-postgres"
UNPRIVILEGED_USERS = ("nobody", FALLBACK_USER)
COMMAND_TIMEOUT = 120  # seconds, for initdb and pg_ctl


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be found or started; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class ServerBinaries:
    """Absolute paths of the server programs this harness runs."""

    initdb: str
    pg_ctl: str
    postgres: str


def find_server_binaries() -> ServerBinaries:
    """The server programs from PATH, else from the newest Debian ``/usr/lib/postgresql/<version>/bin``."""
    on_path = [shutil.which(command) for command in SERVER_COMMANDS]
    if all(on_path):
        return ServerBinaries(*on_path)  # type: ignore[arg-type]
    for directory in sorted(glob.glob(DEBIAN_LAYOUT), key=_version_key, reverse=True):
        candidates = [os.path.join(directory, command) for command in SERVER_COMMANDS]
        if all(os.access(candidate, os.X_OK) for candidate in candidates):
            return ServerBinaries(*candidates)
    missing = ", ".join(command for command, path in zip(SERVER_COMMANDS, on_path) if not path)
    raise PostgresUnavailable(
        f"PostgreSQL server programs not found ({missing} missing from PATH and {DEBIAN_LAYOUT}): "
        f"{INSTALL_HINT}"
    )


def _version_key(directory: str) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``: 15 before 9.6 when reversed."""
    version = Path(directory).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version))


class CommandRunner:
    """Runs the server programs, as an unprivileged user when this process is root."""

    def __init__(self, prefix: Sequence[str] = ()) -> None:
        self.prefix = list(prefix)

    def run(self, args: Sequence[str], cwd: Path) -> None:
        """Run one command; on failure raise ``PostgresUnavailable`` with its output."""
        command = [*self.prefix, *args]
        try:
            completed = subprocess.run(
                command, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailable(f"{' '.join(command)} could not run: {error}") from error
        if completed.returncode != 0:
            output = (completed.stdout + completed.stderr).strip()
            raise PostgresUnavailable(
                f"{' '.join(command)} failed (exit {completed.returncode}): {output}"
            )


def unprivileged_runner(folder: Path) -> CommandRunner:
    """A runner for ``folder``'s server: as root, give the folder to an unprivileged user and run as it."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return CommandRunner()
    tool = _user_switch_tool()
    problems = []
    for user in UNPRIVILEGED_USERS:
        try:
            if user == FALLBACK_USER:
                _ensure_system_user(user)
            entry = _user_entry(user)
            shutil.chown(folder, user=entry.pw_uid, group=entry.pw_gid)
            runner = CommandRunner(_run_as(tool, entry))
            runner.run(["test", "-w", str(folder)], cwd=folder)  # can the user reach and write it?
            return runner
        except (OSError, LookupError, PostgresUnavailable) as error:
            problems.append(f"{user}: {error}")
    raise PostgresUnavailable(
        "running as root, and no unprivileged user can own the PostgreSQL data folder "
        f"{folder} ({'; '.join(problems)}); run the tests as a non-root user or set TMPDIR "
        "to a folder every user can reach"
    )


def _user_switch_tool() -> str:
    """The program that runs a command as another user: ``runuser`` (util-linux), else ``setpriv``."""
    for tool in ("runuser", "setpriv"):
        if shutil.which(tool):
            return tool
    raise PostgresUnavailable(
        "running as root, where initdb and postgres refuse to run, and neither runuser nor "
        "setpriv is available to switch to an unprivileged user (Debian: apt-get install util-linux)"
    )


def _run_as(tool: str, entry: pwd.struct_passwd) -> list[str]:
    """Command prefix that runs the rest of the command line as the user of ``entry``."""
    if tool == "runuser":
        return ["runuser", "-u", entry.pw_name, "--"]
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]


def _user_entry(user: str) -> pwd.struct_passwd:
    """The password-database entry of ``user`` (``KeyError`` when there is no such user)."""
    import pwd

    return pwd.getpwnam(user)


def _ensure_system_user(user: str) -> None:
    """Create a login-less system user unless it exists (root only)."""
    try:
        _user_entry(user)
    except KeyError:
        if not shutil.which("useradd"):
            raise LookupError("no such user and no useradd to create it") from None
        CommandRunner().run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            cwd=Path("/"),
        )


def free_local_port() -> int:
    """A TCP port of 127.0.0.1 that is free right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One PostgreSQL server in its own temporary folder: ``start()`` it, then always ``stop()`` it."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.binaries: ServerBinaries | None = None
        self.runner = CommandRunner()
        self.running = False

    @property
    def data(self) -> Path:
        assert self.folder is not None, "start() first"
        return self.folder / "data"

    def start(self) -> dict[str, str]:
        """Create, start and populate the server; return the Django database settings for it."""
        _require_driver()
        self.binaries = find_server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="djs-postgres-"))
        self.runner = unprivileged_runner(self.folder)
        self.runner.run(
            [self.binaries.initdb, "--pgdata", str(self.data), "--auth=trust", f"--username={SUPERUSER}",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            cwd=self.folder,
        )
        port = free_local_port()
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                "\n# flake8-django-safety test server: local only, data thrown away\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {port}\n"
                f"unix_socket_directories = '{self.folder}'\n"
                "fsync = off\n"
            )
        log = self.folder / "server.log"
        try:
            # -w: return once the server accepts connections (pg_ctl pings it), at most -t seconds.
            self.runner.run(
                [self.binaries.pg_ctl, "start", "--pgdata", str(self.data), "--log", str(log), "-w", "-t", "60"],
                cwd=self.folder,
            )
        except PostgresUnavailable as error:
            server_log = log.read_text(errors="replace").strip() if log.exists() else "(no log)"
            raise PostgresUnavailable(f"{error}\nserver log:\n{server_log}") from error
        self.running = True
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DATABASE,
            "USER": SUPERUSER,
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        _create_database(database)
        return database

    def stop(self) -> None:
        """Stop the server (no clean shutdown: the data is discarded) and delete its folder."""
        try:
            if self.running:
                assert self.binaries is not None and self.folder is not None
                self.runner.run(
                    [self.binaries.pg_ctl, "stop", "--pgdata", str(self.data), "-m", "immediate", "-w"],
                    cwd=self.folder,
                )
                self.running = False
        finally:
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
                self.folder = None


def _require_driver() -> None:
    """Fail early, before starting anything, when Django's PostgreSQL driver is not installed."""
    try:
        import psycopg  # noqa: F401 - only checking that it is importable
    except ImportError as error:
        raise PostgresUnavailable(
            f"the PostgreSQL driver psycopg is not installed ({error}): "
            'pip install -e ".[test]" (or pip install "psycopg[binary]")'
        ) from error


def _create_database(database: dict[str, str]) -> None:
    """``CREATE DATABASE`` through the server's maintenance database, over TCP like Django will."""
    import psycopg

    try:
        with psycopg.connect(
            host=database["HOST"], port=database["PORT"], user=database["USER"], dbname="postgres",
            autocommit=True, connect_timeout=30,
        ) as connection:
            connection.execute(f'CREATE DATABASE "{database["NAME"]}"')
    except psycopg.Error as error:
        raise PostgresUnavailable(f"the PostgreSQL server started but is unusable: {error}") from error


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail when ``DJS_REQUIRE_POSTGRES=1``: never silently."""
    message = f"PostgreSQL tests need a PostgreSQL server: {reason}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1 makes this a failure)", pytrace=False)
    pytest.skip(f"{message} (set {REQUIRE_ENV}=1 to fail instead of skipping)")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[dict[str, str]]:
    """A fresh database on a throw-away server, as a Django ``DATABASES["default"]`` entry."""
    server = PostgresServer()
    try:
        database = server.start()
    except PostgresUnavailable as error:
        server.stop()
        reason = str(error)
    else:
        reason = None
    if reason is not None:  # outside the except block: the message alone, no chained traceback
        _unavailable(reason)
    try:
        yield database
    finally:
        server.stop()
