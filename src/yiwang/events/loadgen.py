"""Load generator for ``yiwang bench events`` — a separate process, raw HTTP/1.1 keep-alive.

A plain asyncio client (no HTTP library) so that the generator costs little CPU on a
2-core machine and the server gets the rest. Closed loop (``--rate 0``: each connection
sends its next request when the previous answer arrived) measures the highest throughput;
open loop (``--rate R``) sends R requests per second whatever the server does and measures
latency at that rate. Every request carries a unique idempotency key; ``--retry-share`` of
them are sent a second time and must come back with the same id and status 200.
Prints one JSON object; the ids go to ``--out`` for the loss/duplication check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from urllib.parse import urlencode, urlparse

TEXTS = [
    "小区门口下水道堵了，污水漫到路上",
    "路灯晚上不亮，黑乎乎的",
    "人行道上井盖没了很危险",
    "马路边有人乱扔垃圾",
    "店家把桌子摆到人行道上",
    "工地晚上施工太吵了",
    "路面塌了一个坑",
    "绿化带里全是垃圾",
]
CODES = ["200404", "100118", "100101", "200102", "200504", "200301", "200401", "200106"]


def build(mode: str, i: int, run: str, key: str, host: str) -> bytes:
    rng = random.Random(i)
    k = rng.randrange(len(TEXTS))
    lat, lng = 31.385 + rng.random() * 0.02, 120.950 + rng.random() * 0.02  # central 玉山镇
    if mode == "api" or (mode == "mixed" and i % 2):
        body = json.dumps(
            {
                "channel": "iot",
                "source_ref": f"{run}-{i}",
                "description": TEXTS[k],
                "category_code": CODES[k],
                "lat": lat,
                "long": lng,
                "idempotency_key": f"{run}-{i}",
            },
            ensure_ascii=False,
        ).encode()
        head = (
            f"POST /api/v1/events/intake HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body
    path = "/open311/v2/_bare.json" if mode == "bare" else "/open311/v2/requests.json"
    body = urlencode(
        {
            "api_key": key,
            "service_code": CODES[k],
            "description": TEXTS[k],
            "lat": f"{lat:.6f}",
            "long": f"{lng:.6f}",
            "idempotency_key": f"{run}-{i}",
        }
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def roundtrip(reader, writer, payload: bytes) -> tuple[int, bytes]:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


def _id(body: bytes) -> str | None:
    """The case number in an Open311 or intake answer (a slice, not a JSON parse: the generator
    must stay cheap)."""
    for key in (b'"service_request_id":"', b'"number":"'):
        at = body.find(key)
        if at >= 0:
            start = at + len(key)
            return body[start : body.index(b'"', start)].decode()
    return None


async def main(args) -> dict:
    url = urlparse(args.url)
    host, port = url.hostname, url.port or 80
    run = args.run or f"b{int(time.time() * 1000)}"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    ids: dict[int, str] = {}
    retry_mismatch = retries = 0
    host_port = f"{host}:{port}"
    payloads = [build(args.mode, i, run, args.key, host_port) for i in range(args.n)]  # built before the clock
    retry = {i for i in range(args.n) if args.retry_share and random.Random(i).random() < args.retry_share}
    counter = iter(range(args.n))
    started = time.perf_counter()
    interval = 1.0 / args.rate if args.rate else 0.0

    async def worker():
        nonlocal retry_mismatch, retries
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                if interval:
                    delay = started + i * interval - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                payload = payloads[i]
                t0 = time.perf_counter()
                status, body = await roundtrip(reader, writer, payload)
                # open loop: latency counts from the scheduled send time (no coordinated omission)
                sched = started + i * interval if interval else t0
                latencies.append(time.perf_counter() - min(t0, sched) if interval else time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                rid = _id(body)
                if status in (200, 201) and rid:
                    ids[i] = rid
                if i in retry and status == 201:
                    retries += 1
                    s2, b2 = await roundtrip(reader, writer, payload)
                    if s2 != 200 or _id(b2) != rid:
                        retry_mismatch += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    lat = sorted(latencies)

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"run": run, "ids": ids}, fh)
    return {
        "mode": args.mode,
        "requests": args.n,
        "seconds": round(elapsed, 3),
        "per_second": round(args.n / elapsed, 1),
        "statuses": statuses,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "ids": len(ids),
        "unique_ids": len(set(ids.values())),
        "retries": retries,
        "retry_mismatches": retry_mismatch,
        "run": run,
    }


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rate", type=float, default=0, help="requests/s (open loop); 0 = as fast as possible")
    p.add_argument("--mode", choices=["open311", "api", "mixed", "bare"], default="mixed")
    p.add_argument("--key", default="")
    p.add_argument("--retry-share", type=float, default=0.01)
    p.add_argument("--run", default="")
    p.add_argument("--out", default="")
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(main(args))))


if __name__ == "__main__":
    cli()
