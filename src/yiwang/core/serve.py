"""Serve the app with several worker processes, each on a listening socket of its own.

uvicorn's ``--workers`` shares one listening socket: every worker waits on it, the first to
wake accepts everything queued, and a burst of new keep-alive connections can all land in
one process: then one process — one GIL — serves the whole load while the other idles, and the
p99 doubles (README's event center benchmark). Here each worker binds its own socket with ``SO_REUSEPORT``, so the
kernel spreads connections over the workers by a hash of their addresses. The parent only
supervises: it restarts a worker that dies and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
from multiprocessing.context import SpawnProcess
from types import FrameType

import structlog

log = structlog.get_logger("yiwang.core.serve")
APP = "yiwang.app:app_from_env"
# uvicorn's proxy headers are off: by default it rewrites the client address from X-Forwarded-For for any
# peer on 127.0.0.1. ``core.web.client_address`` does it instead, for YIWANG_TRUSTED_PROXIES only.


STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that failed before serving


def serve(host: str, port: int, workers: int, log_level: str) -> int:
    """Serve until stopped; returns the exit status."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        import uvicorn

        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
            proxy_headers=False,
        )
        return 0
    return Supervisor(host, port, workers, log_level).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound with ``SO_REUSEPORT``: each worker has one, the kernel balances between them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, log_level: str, app: str, factory: bool) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(app, factory=factory, log_level=log_level, access_log=False, proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    def __init__(
        self, host: str, port: int, workers: int, log_level: str, app: str = APP, factory: bool = True
    ) -> None:
        self.args = (host, port, log_level, app, factory)
        self.count = workers
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[SpawnProcess] = []
        self.stopping = threading.Event()

    def _start(self) -> SpawnProcess:
        process = self.context.Process(target=_worker, args=self.args, name="yiwang-worker")
        process.start()
        return process

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; returns the exit status (non-zero when a worker could not start)."""
        _address_is_free(self.args[0], self.args[1])
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        self.processes = [self._start() for _ in range(self.count)]
        status = 0
        while not self.stopping.wait(0.5):
            for i, process in enumerate(self.processes):
                if process.is_alive() or self.stopping.is_set():
                    continue
                if process.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                    log.error("a worker could not start; stopping", pid=process.pid)
                    status = STARTUP_FAILURE
                    self.stopping.set()
                    break
                log.warning("worker died; starting another", pid=process.pid, exitcode=process.exitcode)
                self.processes[i] = self._start()
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight and runs the shutdown
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        return status


def _address_is_free(host: str, port: int) -> None:
    """Bind once without ``SO_REUSEPORT``: fails (``OSError``, address in use) if anything listens there —
    another yiwang included, whose reuse-port sockets would otherwise silently share the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
