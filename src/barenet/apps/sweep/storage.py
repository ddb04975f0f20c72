"""Where a sweep's study lives: a SQLite file (one machine) or a PostgreSQL database (many), and the lock
that makes concurrent workers safe.

Two processes that create Optuna's schema in an empty PostgreSQL database at the same moment race:
one dies with `UniqueViolation ... CREATE TYPE studydirection` (Optuna issue 1092). Every barenet
process therefore creates the schema and the study under `StorageLock`: a PostgreSQL advisory lock
(held by a connection of its own, released by the server if the process dies) or, for SQLite, an
flock on a file beside the database. A schema error that slips past the lock (a client that is not
barenet) is retried with backoff. `barenet sweep init --storage URL` creates the schema up front.

The same lock makes taking the next trial atomic (count the study's trials, then ask), so N workers
run exactly `--trials` trials between them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...errors import BarenetError, ConfigError, WriteError
from ...io.files import make_dir
from .engine import INSTALL, optuna

ADVISORY_KEY = 0x6261_7265_6E65_7431  # "barenet1": the one advisory lock id barenet sweeps take
SCHEMES = ("sqlite", "postgresql")
SQLITE_TIMEOUT_S = 60  # writers wait this long for each other instead of failing with "database is locked"
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0)


def default_url(folder: Path) -> str:
    """A SQLite file in the sweep folder: rerunning the same command finds the study again."""
    return f"sqlite:///{(Path(folder) / 'study.db').resolve()}"


def scheme(url: str) -> str:
    """"sqlite" or "postgresql" (any driver), or a one-line error."""
    name = url.partition(":")[0].partition("+")[0].lower()
    if not url.partition(":")[1] or name not in SCHEMES:
        raise ConfigError(f"--storage {shown(url)!r}: use sqlite:///PATH.db or postgresql://USER@HOST:PORT/DB")
    return name


def with_driver(url: str) -> str:
    """postgresql://... through psycopg 3 (the sweep extra's driver), whatever SQLAlchemy's default driver is;
    a URL that names its driver (postgresql+psycopg2://...) keeps it."""
    return "postgresql+psycopg:" + url.partition(":")[2] if url.partition(":")[0] == "postgresql" else url


def shown(url: str) -> str:
    """The URL with any password hidden, for messages."""
    user, at, host = url.rpartition("@")
    if at and ":" in user.partition("//")[2]:
        return f"{user.rpartition(':')[0]}:***@{host}"
    return url


class StorageLock:
    """An exclusive lock shared by every barenet process using this storage: `with lock: ...`."""

    def __init__(self, url: str):
        self.url, self.kind = url, scheme(url)
        self._fd: int | None = None
        self._connection: Any = None
        self._held = False

    def acquire(self) -> None:
        """Wait for the lock (a no-op when this object holds it already)."""
        if self._held:
            return
        if self.kind == "sqlite":
            import fcntl

            self._fd = open_lock_file(sqlite_path(self.url).with_suffix(".lock"))
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        else:
            self._advisory("pg_advisory_lock")
        self._held = True

    def release(self) -> None:
        """Let the next process in (a no-op when not held)."""
        if not self._held:
            return
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
        else:
            self._advisory("pg_advisory_unlock")
        self._held = False

    def __enter__(self) -> StorageLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def _advisory(self, function: str) -> None:
        from sqlalchemy import text

        if self._connection is None:
            self._connection = connect(self.url)
        self._connection.execute(text(f"SELECT {function}(:key)"), {"key": ADVISORY_KEY})
        self._connection.commit()  # the lock is the session's: end the transaction, keep the lock

    def close(self) -> None:
        """Release the lock and close the lock's own connection."""
        self.release()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def open_lock_file(path: Path) -> int:
    """The descriptor of the SQLite study's lock file (created), or a one-line error naming the folder."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"cannot create the sweep's lock file {path} ({exc.strerror or exc}): give --storage a "
                          f"sqlite:///PATH.db in a folder you can write") from None


def connect(url: str) -> Any:
    """A SQLAlchemy connection of its own (no pool), or a one-line error saying what to fix."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    try:
        return create_engine(with_driver(url), poolclass=NullPool).connect()
    except ModuleNotFoundError as exc:
        raise ConfigError(f"--storage {shown(url)} needs a database driver: {INSTALL} ({exc})") from None
    except OperationalError as exc:
        raise unreachable(url, exc) from None


def unreachable(url: str, exc: Exception) -> BarenetError:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if is_full(reason):
        return disk_full(url, reason)
    return ConfigError(f"cannot open the sweep storage {shown(url)}: {reason}; check the URL and that the "
                       f"database server is running")


@contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn a storage that fails while a sweep runs (a full disk, a lost server) into one line, not Optuna's and
    SQLAlchemy's chained tracebacks. Finished trials stay in the study."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except (DBAPIError, optuna().exceptions.StorageInternalError) as exc:
        reason = root_reason(exc)
        if is_full(reason):
            raise disk_full(url, reason) from None
        raise ConfigError(f"the sweep storage {shown(url)} failed ({reason}): check it, then rerun the same "
                          f"command (finished trials are kept)") from None


def is_full(reason: str) -> bool:
    """Whether a database's error says its disk is full (SQLite: "database or disk is full")."""
    return "disk is full" in reason or "No space left" in reason or "disk full" in reason


def disk_full(url: str, reason: str) -> WriteError:
    return WriteError(f"the sweep storage {shown(url)} is full ({reason}): free some space, then rerun the same "
                      f"command (finished trials are kept)")


def root_reason(exc: BaseException) -> str:
    """The first line of the innermost error of a chain (the database driver's own words)."""
    while (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def sqlite_path(url: str) -> Path:
    """The database file of a sqlite:///PATH URL (its folder is created)."""
    text = url.partition(":///")[2]
    if not text or text == ":memory:":
        raise ConfigError(f"--storage {url!r}: give a file, sqlite:///PATH.db (workers share it)")
    return make_dir(Path(text).parent) / Path(text).name


def open_storage(url: str, lock: StorageLock, heartbeat_s: int | None = None) -> Any:
    """Optuna's RDBStorage for `url`, its schema created under `lock`; with `heartbeat_s`, a trial whose worker
    stops beating for 3 heartbeats is failed by the next worker and retried with the same parameters."""
    optuna_ = optuna()
    options: dict[str, Any] = {}
    if heartbeat_s:
        options = {"heartbeat_interval": heartbeat_s, "grace_period": 3 * heartbeat_s,
                   "heartbeat_stale_trial_callback": optuna_.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)}
    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if lock.kind == "sqlite" else {"pool_pre_ping": True}
    if lock.kind == "sqlite":
        sqlite_path(url)
    with lock:
        return retried(lambda: optuna_.storages.RDBStorage(with_driver(url), engine_kwargs=engine, **options), url)


def beat_for_silent_trials(storage: Any, study_name: str) -> list[int]:
    """Record a first heartbeat for the study's RUNNING trials that never sent one; returns their numbers.

    Optuna creates a trial (`ask`) before its heartbeat thread sends the first beat, and its stale-trial
    check skips trials without any beat. A worker killed in between leaves a trial RUNNING forever, and
    a resumed sweep would wait for it forever. One beat on its behalf makes it look like any dead
    worker's trial: failed and retried once the grace period passes. A live trial loses nothing (its own
    thread beats on).
    """
    from optuna.storages._rdb import models  # Optuna's own tables, as its `_get_stale_trial_ids` reads them
    from sqlalchemy import orm

    study_id = storage.get_study_id_from_name(study_name)
    session = storage.scoped_session()
    try:
        running = (session.query(models.TrialModel).options(orm.selectinload(models.TrialModel.heartbeats))
                   .filter(models.TrialModel.state == optuna().trial.TrialState.RUNNING)
                   .filter(models.TrialModel.study_id == study_id).all())
        silent = {trial.number: trial.trial_id for trial in running if not trial.heartbeats}
    finally:
        session.close()
    for trial_id in silent.values():
        storage.record_heartbeat(trial_id)
    return sorted(silent)


def retried(create, url: str) -> Any:
    """`create()`, again after a pause when a concurrent schema creation got in first (Optuna issue 1092)."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for delay in (*RETRY_DELAYS_S, None):
        try:
            return create()
        except ModuleNotFoundError as exc:
            raise ConfigError(f"--storage {shown(url)} needs a database driver: {INSTALL} ({exc})") from None
        except (IntegrityError, ProgrammingError) as exc:
            if delay is None or "already exists" not in str(exc) and "duplicate" not in str(exc).lower():
                raise
        except OperationalError as exc:
            if delay is None or "locked" not in str(exc):
                raise unreachable(url, exc) from None
        time.sleep(delay)
    raise AssertionError("unreachable")


def init_storage(url: str) -> str:
    """Create Optuna's schema in `url` (what `barenet sweep init` does); returns the URL as shown."""
    lock = StorageLock(url)
    try:
        open_storage(url, lock)
    finally:
        lock.close()
    return shown(url)


def load_study(url: str, name: str) -> Any:
    """An existing study, read-only use (`barenet sweep show`); a one-line error naming the studies there."""
    optuna_ = optuna()
    if scheme(url) == "sqlite" and not Path(url.partition(":///")[2]).is_file():
        raise ConfigError(f"no sweep storage at {url.partition(':///')[2]}: give the sweep's --storage URL "
                          f"(default runs/sweep-STUDY/study.db)")
    lock = StorageLock(url)
    try:
        storage = open_storage(url, lock)
    finally:
        lock.close()
    names = optuna_.get_all_study_names(storage)
    if name not in names:
        raise ConfigError(f"no study {name!r} in {shown(url)}: it holds {', '.join(names) or 'none'}")
    return optuna_.load_study(study_name=name, storage=storage)
