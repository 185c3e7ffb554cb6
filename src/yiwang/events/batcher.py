"""Group commit for the intake API: many concurrent requests, one transaction.

Requests put their validated report on a queue and wait; one writer per process (and per
event loop) takes everything queued — up to ``YIWANG_EVENTS_BATCH_MAX`` — and writes it
with ``intake.accept_many`` in a worker thread. Under light load a batch is one report
(no added wait). Under a burst the batch grows while the previous one commits — but with
several web processes taking turns on SQLite's single writer, a turn can be so short that
batches stay small and the fixed cost of a transaction (begin, commit, the pages every
insert touches) is paid per handful of cases. So while a burst lasts (the previous batch
ended less than ``BUSY_SECONDS`` ago) the writer lets a batch fill for
``YIWANG_EVENTS_BATCH_LINGER_MS`` after its first report arrived (measured at 1,000 cases/s:
about 7 % less server CPU in all; 0 turns it off).
A request is answered only after its batch committed, so 201 means durable.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from yiwang.core.audit import Origin
from yiwang.events.intake import Accepted, Report, accept_many
from yiwang.events.settings import get_events_settings

LAST_WRITE = [0.0]  # monotonic time of this process's last intake batch (the triage worker yields to it)
BUSY_SECONDS = 0.05  # a batch that starts this soon after the previous one ended is part of a burst
ACTIVITY_FILE = "events-intake.active"  # in YIWANG_HOME; its mtime: the last intake batch of any process
_touched = [0.0]


def mark_intake(home: Path | None) -> None:
    """Note an intake batch — for this process, and (at most every 0.1 s) for the others on this host.

    The load balancer may give one web process most of a burst; the triage worker of an idle
    process must yield to it as well, or its batches take the CPU (and on SQLite the writer
    lock) from the busy one.
    """
    now = time.monotonic()
    LAST_WRITE[0] = now
    if home is not None and now - _touched[0] > 0.1:
        _touched[0] = now
        try:
            os.utime(home / ACTIVITY_FILE)
        except FileNotFoundError:
            (home / ACTIVITY_FILE).touch()
        except OSError:
            pass  # a read-only home: this process's own mark still counts


def intake_busy(home: Path | None = None, within: float = 2.0) -> bool:
    """Did this process, or any process sharing ``home``, accept a batch in the last ``within`` seconds?"""
    if time.monotonic() - LAST_WRITE[0] < within:
        return True
    if home is None:
        return False
    try:
        return time.time() - (home / ACTIVITY_FILE).stat().st_mtime < within
    except OSError:
        return False


class Batcher:
    def __init__(self, factory: sessionmaker[Session], home: Path | None = None) -> None:
        self.factory, self.home = factory, home
        self.queue: asyncio.Queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="events-intake")
        self.task: asyncio.Task | None = None
        settings = get_events_settings()
        self.max = settings.batch_max
        self.linger = settings.batch_linger_ms / 1000
        self.ended = 0.0  # loop time the previous batch was answered

    async def submit(self, report: Report, actor, origin: Origin) -> Accepted:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put_nowait((report, actor, origin, future, loop.time()))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run())
        return await future

    async def _fill(self, loop, batch: list) -> None:
        """During a burst, let the batch fill until ``linger`` after its first report arrived."""
        first_arrived = batch[0][4]
        if not self.linger or first_arrived - self.ended > BUSY_SECONDS:
            return
        while len(batch) < self.max and (wait := first_arrived + self.linger - loop.time()) > 0:
            await asyncio.sleep(min(wait, 0.002))
            while len(batch) < self.max and not self.queue.empty():
                batch.append(self.queue.get_nowait())

    def _write(self, batch: list) -> list[Accepted]:
        mark_intake(self.home)
        with self.factory() as session:
            try:
                return accept_many(session, [b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch])
            except BaseException:
                session.rollback()
                raise

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.queue.empty():
            batch = [self.queue.get_nowait()]
            while len(batch) < self.max and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self._fill(loop, batch)
            try:
                results = await loop.run_in_executor(self.executor, self._write, batch)
            except Exception as exc:
                for *_rest, fut, _arrived in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            finally:
                self.ended = loop.time()
            for (*_rest, fut, _arrived), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)


_batchers: dict[tuple[int, int], Batcher] = {}


def batcher_for(factory: sessionmaker[Session], home: Path | None = None) -> Batcher:
    """One batcher per session factory and event loop; ``home`` is where intake activity is marked."""
    key = (id(factory), id(asyncio.get_running_loop()))
    b = _batchers.get(key)
    if b is None:
        b = _batchers[key] = Batcher(factory, home)
    return b


def app_batcher(app: FastAPI) -> Batcher:
    """The intake routes' batcher: the app's sessions, intake marked in the app's home folder."""
    return batcher_for(app.state.sessionmaker, app.state.settings.home_path)
