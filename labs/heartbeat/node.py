"""The heartbeat lab: members that say "I am alive", a monitor that suspects the silent ones, and
a clerk that asks the monitor whom it suspects.

Read the handout first (``site/labs/heartbeat.md``, or the course site). In short:

* :class:`Member` (every node but ``n1``) sends a :class:`Heartbeat` to the monitor every
  ``INTERVAL`` seconds, from the moment it starts.
* :class:`Monitor` (node ``n1``) notes when it last heard from each member. Asked
  (:class:`WhoIsDown`), it answers (:class:`Suspects`) with the members it has not heard from
  for more than ``TIMEOUT`` seconds, sorted; a member it never heard from counts from the moment
  the monitor started.
* :class:`HeartbeatClerk` asks on behalf of the workload (``Op("suspects")``) and completes the
  operation with the list. The network may lose the question or the answer: it asks again every
  ``RETRY`` seconds until an answer to *this* question comes back.

This lab is also the course's example of a lab, the one to copy when adding a new one: see the
instructors' page "Adding a lab". The messages and timers below are the protocol; keep their names
and fields (the tests and the picture read them). Write your code where it says
``raise NotImplementedError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs.runtime.node import Clerk, Node, Op, on, on_timer
from labs.runtime.roles import by_name

__all__ = ["HeartbeatClerk", "HeartbeatNode", "Member", "Monitor"]

MONITOR = "n1"
INTERVAL = 0.05
"""Seconds between two heartbeats of a member."""
TIMEOUT = 0.5
"""Seconds of silence after which the monitor suspects a member: ten heartbeats in a row lost."""
RETRY = 0.1
"""Seconds a clerk waits for an answer before it asks again."""


# -- the protocol -------------------------------------------------------------------------


@dataclass(frozen=True)
class Heartbeat:
    """A member to the monitor: "I am alive"."""


@dataclass(frozen=True)
class WhoIsDown:
    """A clerk to the monitor: question number ``seq`` of clerk ``client``."""

    client: str
    seq: int


@dataclass(frozen=True)
class Suspects:
    """The monitor's answer to question ``seq`` of ``client``: the members it suspects, sorted."""

    client: str
    seq: int
    members: list[str]


@dataclass(frozen=True)
class Beat:
    """A member's reminder to send the next heartbeat."""


@dataclass(frozen=True)
class AskAgain:
    """A clerk's reminder to ask question ``seq`` again if no answer came."""

    seq: int


# -- the nodes ----------------------------------------------------------------------------


class Member(Node):
    """Sends a heartbeat to the monitor every ``INTERVAL`` seconds."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        self.handle_beat(Beat())
        ### END SOLUTION

    @on_timer(Beat)
    def handle_beat(self, timer: Beat) -> None:
        ### BEGIN SOLUTION
        self.send(MONITOR, Heartbeat())
        self.set_timer(INTERVAL, Beat())
        ### END SOLUTION


class Monitor(Node):
    """Suspects the members it has not heard from for more than ``TIMEOUT`` seconds."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        started = self.now()
        self.heard = {member: started for member in self.peers}
        ### END SOLUTION

    @on(Heartbeat)
    def handle_heartbeat(self, msg: Heartbeat, sender: str) -> None:
        ### BEGIN SOLUTION
        self.heard[sender] = self.now()
        ### END SOLUTION

    @on(WhoIsDown)
    def handle_who_is_down(self, msg: WhoIsDown, sender: str) -> None:
        ### BEGIN SOLUTION
        now = self.now()
        silent = sorted(m for m, last in self.heard.items() if now - last > TIMEOUT)
        self.send(sender, Suspects(msg.client, msg.seq, silent))
        ### END SOLUTION


class HeartbeatClerk(Clerk):
    """Asks the monitor whom it suspects, again and again until an answer comes back."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        # A clerk replaced by a fresh one keeps its node name: the random part keeps them apart.
        self.client = f"{self.id}-{self.random.getrandbits(32):08x}"
        self.seq = 0
        self.waiting = False
        ### END SOLUTION

    def on_invoke(self, op: Op) -> None:
        ### BEGIN SOLUTION
        self.seq += 1
        self.waiting = True
        self.handle_ask_again(AskAgain(self.seq))
        ### END SOLUTION

    @on(Suspects)
    def handle_suspects(self, msg: Suspects, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.waiting and msg.client == self.client and msg.seq == self.seq:
            self.waiting = False
            self.complete(msg.members)
        ### END SOLUTION

    @on_timer(AskAgain)
    def handle_ask_again(self, timer: AskAgain) -> None:
        ### BEGIN SOLUTION
        if self.waiting and timer.seq == self.seq:
            self.send(MONITOR, WhoIsDown(self.client, self.seq))
            self.set_timer(RETRY, AskAgain(self.seq))
        ### END SOLUTION


HeartbeatNode = by_name("HeartbeatNode", {MONITOR: Monitor}, default=Member)
"""The lab's node class: ``n1`` runs the :class:`Monitor`, every other node a :class:`Member`."""
