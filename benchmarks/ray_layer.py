"""What does the lab's network layer cost on Ray? Round-trip latency and one-way throughput between
two nodes through the runtime (JSON encoding, fault logic, trace events), against raw Ray actor
method calls measured in the same run.

    python benchmarks/ray_layer.py [--pings 1000] [--messages 5000]

Targets (issue 2): a round trip at most 1.5x the raw Ray round trip, and at least 2,000 messages/s
between two nodes on a 2-core machine. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")

import ray

from labs.runtime.lab import Lab
from labs.runtime.node import Node, on, on_timer
from labs.runtime.ray_runtime import ensure_ray, run_ray
from labs.runtime.schedule import builder


@dataclass(frozen=True)
class Ping:
    i: int
    sent: float


@dataclass(frozen=True)
class Pong:
    i: int
    sent: float


@dataclass(frozen=True)
class Data:
    i: int
    payload: str


@dataclass(frozen=True)
class Go:
    pass


class Bench(Node):
    pings = 1000
    messages = 5000

    def on_start(self) -> None:
        self.received = 0
        if self.id == "n1":
            self.set_timer(0.5, Go())

    @on_timer(Go)
    def go(self, timer: Go) -> None:
        self.send("n2", Ping(0, time.perf_counter()))

    @on(Ping)
    def handle_ping(self, msg: Ping, sender: str) -> None:
        self.send(sender, Pong(msg.i, msg.sent))

    @on(Pong)
    def handle_pong(self, msg: Pong, sender: str) -> None:
        self.log("rtt", time.perf_counter() - msg.sent)
        if msg.i + 1 < self.pings:
            self.send(sender, Ping(msg.i + 1, time.perf_counter()))
        else:
            self.log("flood", time.time())
            for i in range(self.messages):
                self.send("n2", Data(i, "x" * 64))

    @on(Data)
    def handle_data(self, msg: Data, sender: str) -> None:
        self.received += 1
        if self.received == self.messages:
            self.log("flooded", time.time())


@ray.remote(num_cpus=0)
class Raw:
    """The baseline: plain async Ray actors calling each other."""

    def __init__(self) -> None:
        self.count = 0
        self.done_at = 0.0

    async def ping(self) -> None:
        return None

    async def recv(self, i: int, payload: str) -> None:
        self.count += 1
        if self.count == self.expected:
            self.done_at = time.time()

    async def expect(self, n: int) -> None:
        self.expected = n
        self.count = 0

    async def finished(self) -> float:
        return self.done_at

    async def pings(self, other: Any, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            await other.ping.remote()
            out.append(time.perf_counter() - t)
        return out

    async def flood(self, other: Any, n: int) -> float:
        started = time.time()
        for i in range(n):
            other.recv.remote(i, "x" * 64)
        return started


def raw_baseline(pings: int, messages: int) -> tuple[float, float]:
    a, b = Raw.remote(), Raw.remote()
    ray.get([a.ping.remote(), b.ping.remote()])
    ray.get(a.pings.remote(b, 100))  # warm-up
    rtts = ray.get(a.pings.remote(b, pings))
    ray.get(b.expect.remote(messages))
    started = ray.get(a.flood.remote(b, messages))
    while not (done := ray.get(b.finished.remote())):
        time.sleep(0.01)
    ray.kill(a)
    ray.kill(b)
    return statistics.median(rtts), messages / (done - started)


def lab_layer(pings: int, messages: int) -> tuple[float, float, int]:
    Bench.pings, Bench.messages = pings, messages
    lab = Lab(name="ray-layer", description="ping-pong and flood", node=Bench, nodes=2,
              min_duration=1.0, settle=0.0)
    result = run_ray(lab, builder("clean").duration(8.0).build(), seed=0)
    logs = [e for e in result.trace if e["type"] == "log"]
    rtts = [float(e["text"].split()[1]) for e in logs if e["text"].startswith("rtt ")]
    flood = [float(e["text"].split()[1]) for e in logs if e["text"].startswith("flood ")]
    flooded = [float(e["text"].split()[1]) for e in logs if e["text"].startswith("flooded ")]
    if len(rtts) < pings or not flood or not flooded:
        raise SystemExit(f"the lab run did not finish its work in time ({len(rtts)} pings)")
    return statistics.median(rtts[100:]), messages / (flooded[0] - flood[0]), len(result.trace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    ensure_ray()
    raw_rtt, raw_rate = raw_baseline(args.pings, args.messages)
    lab_rtt, lab_rate, events = lab_layer(args.pings, args.messages)
    figures = {
        "rtt_ratio_vs_raw_ray": round(lab_rtt / raw_rtt, 2),
        "msgs_per_s": round(lab_rate),
        "lab_rtt_ms": round(lab_rtt * 1000, 3),
        "raw_rtt_ms": round(raw_rtt * 1000, 3),
        "raw_msgs_per_s": round(raw_rate),
        "trace_events": events,
    }
    print("Ray layer: two nodes on one machine, clean network, trace on")
    print(f"  round trip (median of {args.pings}): lab {lab_rtt * 1000:.3f} ms, raw Ray call "
          f"{raw_rtt * 1000:.3f} ms: {figures['rtt_ratio_vs_raw_ray']}x "
          f"({'met' if figures['rtt_ratio_vs_raw_ray'] <= 1.5 else 'NOT met'}: target <= 1.5x)")
    print(f"  one-way throughput ({args.messages} messages): lab {lab_rate:,.0f}/s, raw Ray "
          f"{raw_rate:,.0f}/s ({'met' if lab_rate >= 2000 else 'NOT met'}: target >= 2,000/s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
