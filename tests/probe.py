"""A small lab for testing the runtimes: nodes that count their starts on disk, ping each other on
a timer and log their clocks, so that every fault leaves a mark in the trace."""

from __future__ import annotations

from dataclasses import dataclass

from labs.runtime.lab import Lab
from labs.runtime.node import Node, on, on_timer

PERIOD = 0.05


@dataclass(frozen=True)
class Ping:
    starts: int


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class Boom:
    pass


class Probe(Node):
    def on_start(self) -> None:
        self.starts = self.storage.get("starts", 0) + 1
        self.storage["starts"] = self.starts
        self.log("starts", self.starts)
        self.set_timer(PERIOD, Tick())

    @on_timer(Tick)
    def tick(self, timer: Tick) -> None:
        self.log("clock", repr(self.now()))
        self.broadcast(Ping(self.starts))
        self.set_timer(PERIOD, Tick())

    @on(Ping)
    def handle_ping(self, msg: Ping, sender: str) -> None:
        pass

    @on(Boom)
    def handle_boom(self, msg: Boom, sender: str) -> None:
        raise ZeroDivisionError("boom on purpose")


class Bomber(Probe):
    """n1 sends Boom to n2 once, at its first tick after 0.3 s."""

    def on_start(self) -> None:
        super().on_start()
        self.sent_boom = False

    @on_timer(Tick)
    def tick(self, timer: Tick) -> None:
        super().tick(timer)
        if self.id == "n1" and not self.sent_boom and self.now() > 0.3:
            self.sent_boom = True
            self.send("n2", Boom())


PROBE = Lab(name="probe", description="runtime probe", node=Probe, nodes=5, min_duration=1.0, settle=0.5)
BOMBER = Lab(name="bomber", description="a node that raises", node=Bomber, nodes=3, min_duration=1.0, settle=0.5)


def logs(trace: list[dict], node: str, word: str) -> list[tuple[float, str]]:
    """(time, rest of line) of the node's log lines that start with ``word``."""
    out = []
    for e in trace:
        if e.get("type") == "log" and e.get("node") == node and e["text"].startswith(word + " "):
            out.append((e["t"], e["text"][len(word) + 1:]))
    return out


def events(trace: list[dict], kind: str, **match: object) -> list[dict]:
    return [e for e in trace if e.get("type") == kind and all(e.get(k) == v for k, v in match.items())]


class RoleProbe(Probe):
    """A probe whose nodes hold roles: n2 is the primary, n5 the tail, and no node is ever a backup."""

    def role(self) -> str | None:
        return {"n2": "primary", "n5": "tail"}.get(self.id)


ROLES = Lab(name="roles", description="runtime probe with roles", node=RoleProbe, nodes=5, min_duration=1.0,
            settle=0.5, roles=("primary", "backup", "tail"))
