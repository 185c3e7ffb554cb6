"""core.serve: each worker listens on a socket of its own, the kernel spreads connections over them."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from yiwang.core.serve import _address_is_free, listening_socket

TESTS = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reuse_port_sockets_share_new_connections():
    port = _free_port()
    a, b = listening_socket("127.0.0.1", port), listening_socket("127.0.0.1", port)
    clients = []
    try:
        for s in (a, b):
            s.listen(128)
            s.setblocking(False)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
        time.sleep(0.2)
        counts = []
        for s in (a, b):
            n = 0
            while True:
                try:
                    conn, _ = s.accept()
                except BlockingIOError:
                    break
                conn.close()
                n += 1
            counts.append(n)
        assert sum(counts) == 64 and min(counts) >= 8  # a shared socket lets one process take all 64
    finally:
        for c in clients:
            c.close()
        a.close()
        b.close()


def test_a_port_in_use_is_refused_before_any_worker_starts():
    port = _free_port()
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", port))
        plain.listen()
        with pytest.raises(OSError):
            _address_is_free("127.0.0.1", port)
    other = listening_socket("127.0.0.1", port)  # another yiwang's reuse-port worker
    other.listen()
    try:
        with pytest.raises(OSError):
            _address_is_free("127.0.0.1", port)
    finally:
        other.close()


def _pids(base: str, n: int = 40) -> set[int]:
    pids = set()
    for _ in range(n):
        with httpx.Client(base_url=base, timeout=5) as client:  # a new connection each time
            pids.add(int(client.get("/").text))
    return pids


def _wait_serving(base: str, proc) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            httpx.get(base, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the supervisor never served")


def test_the_supervisor_balances_restarts_and_stops_its_workers():
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    code = (
        "import sys; from yiwang.core.serve import Supervisor; "
        f"sys.exit(Supervisor('127.0.0.1', {port}, 2, 'warning', app='pid_app:app', factory=False).run())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_serving(base, proc)
        time.sleep(1)  # both workers listening
        first = _pids(base)
        assert len(first) == 2  # connections reach both workers
        os.kill(min(first), signal.SIGKILL)
        replaced: set[int] = set()
        deadline = time.time() + 30
        while time.time() < deadline and not replaced:
            time.sleep(0.5)
            try:
                replaced = _pids(base, 20) - first
            except httpx.HTTPError:  # a connection queued on the killed worker's socket as it closed
                continue
        assert replaced  # a new worker took the dead one's place
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(base, timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_worker_that_cannot_start_stops_the_supervisor_instead_of_restarting_for_ever():
    port = _free_port()
    code = (
        "import sys; from yiwang.core.serve import Supervisor; "
        f"sys.exit(Supervisor('127.0.0.1', {port}, 2, 'critical', app='pid_app:no_such_app', factory=False).run())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3  # uvicorn's start-up failure, passed on
