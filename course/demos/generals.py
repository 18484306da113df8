"""The two generals, as two nodes and a lossy network.

General ``n1`` wants to attack at dawn, but only together with ``n2``: attacking alone is a
disaster. They can only talk through messengers who may be caught (a lost message). The protocol
here sends a fixed number of messengers back and forth, each one sent when the previous one
arrived, and a general attacks at dawn only if every messenger addressed to it arrived. Whatever
the number, some runs end with one general attacking alone: the last messenger is never
confirmed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from labs.runtime.lab import Lab, RunResult
from labs.runtime.node import Node, on, on_timer
from labs.runtime.run import run
from labs.runtime.schedule import Schedule, builder

DAWN = 1.0
"""When both generals decide, in seconds from the start."""


@dataclass(frozen=True)
class Messenger:
    number: int


@dataclass(frozen=True)
class Dawn:
    pass


class General(Node):
    """``n1`` sends messenger 1 at once; whoever receives messenger *k* sends *k + 1* back, up to
    ``messengers``. At dawn each general writes ``attack`` or ``hold`` in the trace."""

    messengers = 2

    def on_start(self) -> None:
        self.last = 0  # the number of the last messenger received
        self.set_timer(DAWN, Dawn())
        if self.id == "n1":
            self.send("n2", Messenger(1))

    @on(Messenger)
    def handle_messenger(self, msg: Messenger, sender: str) -> None:
        self.last = msg.number
        if msg.number < self.messengers:
            self.send(sender, Messenger(msg.number + 1))

    def expected(self) -> int:
        """The number of the last messenger addressed to this general (0: none)."""
        odd = self.id == "n2"  # n2 receives messengers 1, 3, 5...; n1 receives 2, 4...
        n = self.messengers
        return n if (n % 2 == 1) == odd else n - 1

    @on_timer(Dawn)
    def dawn(self, timer: Dawn) -> None:
        self.log("attack" if self.last >= self.expected() else "hold")


def lab(messengers: int = 2) -> Lab:
    """The two generals exchanging up to ``messengers`` messengers."""
    cls = type("General", (General,), {"messengers": messengers, "__module__": __name__})
    return Lab(name="ch0-generals", description=f"two generals, {messengers} messengers",
               node=cls, nodes=2, min_duration=DAWN + 0.1, settle=0.0)


def valley(loss: float = 0.2) -> Schedule:
    """Messengers cross the valley in 50 to 100 ms; each is caught with probability ``loss``."""
    return builder(f"valley-{loss:g}").loss(loss).delay(uniform=(0.05, 0.1)).build()


def decisions(result: RunResult) -> dict[str, str]:
    """What each general did at dawn, from the trace."""
    return {e["node"]: e["text"] for e in result.trace if e["type"] == "log"}


def outcome(result: RunResult) -> str:
    """``both attack``, ``neither attacks`` or ``only n1 attacks`` / ``only n2 attacks``."""
    d = decisions(result)
    attackers = sorted(n for n, what in d.items() if what == "attack")
    if len(attackers) == 2:
        return "both attack"
    if not attackers:
        return "neither attacks"
    return f"only {attackers[0]} attacks"


def tally(messengers: int, loss: float, seeds: range) -> Counter[str]:
    """Outcomes of the protocol over many seeds (each seed: other messengers are caught)."""
    the_lab, schedule = lab(messengers), valley(loss)
    return Counter(outcome(run(the_lab, "sim", schedule, seed=s)) for s in seeds)
