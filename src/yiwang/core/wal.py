"""SQLite WAL checkpoints off the commit path.

By default SQLite checkpoints inside the commit that pushes the write-ahead log past 1,000
pages: that writer copies the log back into the database while it still holds the writer
lock, so every other writer (and every request waiting on a group commit) waits too, and
hot pages rewritten by each commit are copied again and again. The web processes therefore
run a ``Checkpointer`` thread that copies the log back every second on its own connection in
PASSIVE mode (it never waits for, nor blocks, readers or writers), and connections only
checkpoint themselves once the log passes ``AUTOCHECKPOINT_PAGES`` — the safety net for
commands that write without a web process running.
"""

from __future__ import annotations

import sqlite3
import threading

import structlog

log = structlog.get_logger("yiwang.core.wal")
AUTOCHECKPOINT_PAGES = 16384  # 64 MB of log at 4 KB pages


class Checkpointer:
    """A daemon thread that checkpoints one SQLite database file every ``seconds``."""

    def __init__(self, path: str, seconds: float = 1.0) -> None:
        self.path, self.seconds = path, seconds
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def run_once(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames copied back)."""
        return tuple(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def _loop(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self.stop.wait(self.seconds):
                try:
                    self.run_once(conn)
                except sqlite3.Error as exc:  # a locked or busy moment: the next round retries
                    log.warning("wal checkpoint failed", error=str(exc)[:200])
        finally:
            conn.close()

    def start(self) -> Checkpointer:
        self.thread = threading.Thread(target=self._loop, name="sqlite-checkpoint", daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
