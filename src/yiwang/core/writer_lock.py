"""A writer lock for one SQLite file that is handed over at once, across threads and processes.

SQLite's own busy handler polls a held write lock with sleeps that grow to 100 ms, so under
steady write contention (several web workers' group commits, the triage worker) a writer
often sleeps while the lock is already free. Writers therefore queue first on ``flock`` on a
side file — one descriptor per connection, so threads of one process exclude each other too —
and only then ``BEGIN IMMEDIATE``, which then finds the lock free. The wait is bounded (the
same 30 s as SQLite's busy timeout) and polled at 0.5 ms; the kernel releases the lock of a
process that dies, and a connection's lock is released whenever it ends its transaction,
returns to the pool or is closed. SQLite's lock still decides correctness: a writer that does
not take this lock (the Iceberg catalog's own engine) is simply waited for as before.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from typing import Any

POLL_SECONDS = 0.0005
KEY_FD, KEY_HELD = "yiwang_writer_fd", "yiwang_writer_held"


def open_for(info: dict[str, Any], db_path: str) -> None:
    """Give a new DBAPI connection (its pool record's ``info``) its own descriptor of the side file."""
    info[KEY_FD] = os.open(db_path + "-writer", os.O_RDWR | os.O_CREAT, 0o600)
    info[KEY_HELD] = False


def acquire(info: dict[str, Any], timeout: float) -> None:
    fd = info.get(KEY_FD)
    if fd is None or info.get(KEY_HELD):
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            info[KEY_HELD] = True
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError("database is locked (waited for the writer lock)") from None
            time.sleep(POLL_SECONDS)


def release(info: dict[str, Any]) -> None:
    if info.get(KEY_HELD):
        fcntl.flock(info[KEY_FD], fcntl.LOCK_UN)
        info[KEY_HELD] = False


def close(info: dict[str, Any]) -> None:
    fd = info.pop(KEY_FD, None)
    info.pop(KEY_HELD, None)
    if fd is not None:
        os.close(fd)  # also releases a lock still held
