"""The node API: mistakes caught when a class is defined, and misuse caught while it runs.

Definition mistakes raise NodeDefinitionError at once, with a message that says how to fix them.
Runtime misuse inside a handler crashes that one node (never the simulator): the run goes on, the
trace records the crash, and ``result.errors`` holds a report naming the node, what it was
handling and what went wrong.
"""

import random
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Clerk, Node, NodeDefinitionError, Op, SharedFiles, on, on_timer
from labs.runtime.schedule import builder
from labs.runtime.sim import run_sim
from labs.runtime.trace import Event

SCHEDULE = builder("x").duration(1.0).build()
"""One second of fault phase with no faults; the final heal at t=1 restarts crashed nodes."""

TICK = 0.1


# -- messages and timers ------------------------------------------------------------------


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class Unhandled:
    """Neither a message nor a timer any node of these tests handles."""


@dataclass(frozen=True)
class Parcel:
    contents: Any


@dataclass(frozen=True)
class Reading:
    celsius: float


@dataclass(frozen=True)
class Request:
    req: int
    f: str


@dataclass(frozen=True)
class Reply:
    req: int
    ok: bool
    value: int | None = None


# -- class-definition errors --------------------------------------------------------------


def test_on_with_a_class_that_is_not_a_dataclass_says_to_make_it_one() -> None:
    class Vote:
        pass

    with pytest.raises(NodeDefinitionError) as info:

        class Voter(Node):
            @on(Vote)
            def handle(self, msg: Vote, sender: str) -> None:
                pass

    message = str(info.value)
    assert "Vote is not a dataclass" in message
    assert "put @dataclass(frozen=True) above 'class Vote'" in message


def test_on_timer_with_a_class_that_is_not_a_dataclass_says_to_make_it_one() -> None:
    class Timeout:
        pass

    with pytest.raises(NodeDefinitionError, match=r"@on_timer\(Timeout\): Timeout is not a dataclass"):

        class Waiter(Node):
            @on_timer(Timeout)
            def fire(self, timer: Timeout) -> None:
                pass


def test_on_with_a_string_says_to_give_the_class_itself() -> None:
    with pytest.raises(NodeDefinitionError) as info:

        class Voter(Node):
            @on("Ping")  # type: ignore[arg-type]
            def handle(self, msg: Ping, sender: str) -> None:
                pass

    message = str(info.value)
    assert message.startswith("@on('Ping'): give the class itself")
    assert "not a string or an instance" in message


def test_two_handlers_for_one_message_type_are_refused_naming_both() -> None:
    with pytest.raises(NodeDefinitionError) as info:

        class Twice(Node):
            @on(Ping)
            def first(self, msg: Ping, sender: str) -> None:
                pass

            @on(Ping)
            def second(self, msg: Ping, sender: str) -> None:
                pass

    assert str(info.value) == "Twice: both first() and second() handle Ping; keep one handler per type"


def test_a_subclass_may_replace_the_handler_it_inherits() -> None:
    class Base(Node):
        @on(Ping)
        def old(self, msg: Ping, sender: str) -> None:
            pass

    class Derived(Base):
        @on(Ping)
        def new(self, msg: Ping, sender: str) -> None:
            pass

    assert Derived._message_handlers == {Ping: "new"}
    assert Base._message_handlers == {Ping: "old"}


def test_a_message_handler_with_the_wrong_parameters_says_what_it_takes() -> None:
    with pytest.raises(NodeDefinitionError) as info:

        class Forgetful(Node):
            @on(Ping)
            def handle_ping(self, msg: Ping) -> None:
                pass

    assert str(info.value) == (
        "Forgetful.handle_ping(self, msg): a handler like this one takes (self, msg, sender)"
    )


def test_a_message_handler_with_too_many_parameters_says_what_it_takes() -> None:
    with pytest.raises(NodeDefinitionError, match=re.escape("takes (self, msg, sender)")):

        class Greedy(Node):
            @on(Ping)
            def handle_ping(self, msg: Ping, sender: str, extra: int) -> None:
                pass


def test_a_timer_handler_with_the_wrong_parameters_says_what_it_takes() -> None:
    with pytest.raises(NodeDefinitionError) as info:

        class Confused(Node):
            @on_timer(Tick)
            def tick(self, timer: Tick, sender: str) -> None:
                pass

    assert str(info.value) == (
        "Confused.tick(self, timer, sender): a handler like this one takes (self, timer)"
    )


def test_a_clerk_on_invoke_with_the_wrong_parameters_says_what_it_takes() -> None:
    with pytest.raises(NodeDefinitionError) as info:

        class Lazy(Clerk):
            def on_invoke(self) -> None:  # type: ignore[override]
                pass

    assert str(info.value) == "Lazy.on_invoke(self): a handler like this one takes (self, op)"


def test_a_misspelled_lifecycle_hook_suggests_the_right_name() -> None:
    with pytest.raises(NodeDefinitionError) as info:

        class Typo(Node):
            def on_strat(self) -> None:
                pass

    message = str(info.value)
    assert message.startswith("Typo.on_strat() looks like a handler but nothing will ever call it")
    assert "did you mean on_start()?" in message


def test_an_undecorated_handler_says_to_add_the_decorator_or_rename_it() -> None:
    with pytest.raises(NodeDefinitionError) as info:

        class Undecorated(Node):
            def handle_vote(self, msg: Ping, sender: str) -> None:
                pass

    message = str(info.value)
    assert message.startswith("Undecorated.handle_vote() looks like a handler but nothing will ever call it")
    assert "put @on(MessageType) above it" in message
    assert "give it a name that does not start with on_ or handle_" in message


def test_helpers_and_hooks_need_no_decorator() -> None:
    class Fine(Node):
        def on_start(self) -> None:
            pass

        def role(self) -> str | None:
            return None

        def majority(self) -> int:
            return 2

    assert Fine.handled_messages() == ()


def test_a_message_field_of_a_class_that_cannot_be_sent_is_refused_at_definition() -> None:
    @dataclass(frozen=True)
    class Connection:
        sock: socket.socket

    with pytest.raises(NodeDefinitionError) as info:

        class Server(Node):
            @on(Connection)
            def handle(self, msg: Connection, sender: str) -> None:
                pass

    message = str(info.value)
    assert message.startswith("Server: message Connection has fields that cannot be sent (")
    assert "Connection.sock: socket" in message
    assert "messages hold only None, bool, int, float, str, bytes" in message


def test_a_message_field_annotated_threading_lock_is_refused_at_definition() -> None:
    @dataclass(frozen=True)
    class Guarded:
        lock: threading.Lock

    with pytest.raises(NodeDefinitionError, match=r"Guarded\.lock"):

        class Server(Node):
            @on(Guarded)
            def handle(self, msg: Guarded, sender: str) -> None:
                pass


@dataclass(frozen=True)
class Wire:
    sock: socket.socket


@dataclass(frozen=True)
class Envelope:
    wire: Wire


def test_an_unsendable_field_of_a_nested_dataclass_is_refused_at_definition() -> None:
    with pytest.raises(NodeDefinitionError, match=r"Wire\.sock"):

        class Server(Node):
            @on(Envelope)
            def handle(self, msg: Envelope, sender: str) -> None:
                pass


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda node: node.id, id="id"),
        pytest.param(lambda node: node.peers, id="peers"),
        pytest.param(lambda node: node.storage, id="storage"),
        pytest.param(lambda node: node.now(), id="now"),
        pytest.param(lambda node: node.send("n2", Ping(1)), id="send"),
        pytest.param(lambda node: node.set_timer(1.0, Tick()), id="set_timer"),
    ],
)
def test_using_the_node_api_from_init_says_to_use_on_start(use: Any) -> None:
    class Eager(Node):
        def __init__(self) -> None:
            use(self)

    with pytest.raises(RuntimeError) as info:
        Eager()

    message = str(info.value)
    assert message.startswith("Eager: the node is not running yet")
    assert "Use the node API from on_start() and handlers, not from __init__" in message


# -- runtime misuse: the node crashes, the run goes on -------------------------------------


class Peer(Node):
    """Every TICK seconds, pings every peer. n1 misbehaves once, on its first tick: it remembers
    on disk that it did, so the restart at the final heal does not repeat the mistake."""

    def on_start(self) -> None:
        self.set_timer(TICK, Tick())

    @on_timer(Tick)
    def tick(self, timer: Tick) -> None:
        self.broadcast(Ping(1))
        if self.id == "n1" and not self.storage.get("misbehaved", False):
            self.storage["misbehaved"] = True
            self.misbehave()
        self.set_timer(TICK, Tick())

    @on(Ping)
    def ping(self, msg: Ping, sender: str) -> None:
        pass

    @on(Parcel)
    def parcel(self, msg: Parcel, sender: str) -> None:
        pass

    @on(Reading)
    def reading(self, msg: Reading, sender: str) -> None:
        pass

    def misbehave(self) -> None:
        pass


class SendsToUnknownNode(Peer):
    def misbehave(self) -> None:
        self.send("n9", Ping(1))


class SendsUnhandledMessage(Peer):
    def misbehave(self) -> None:
        self.send("n2", Unhandled())


class SendsUnserializableValue(Peer):
    def misbehave(self) -> None:
        self.send("n2", Parcel(contents=lambda: 42))


class SetsUnhandledTimer(Peer):
    def misbehave(self) -> None:
        self.set_timer(0.1, Unhandled())


class SetsNegativeDelay(Peer):
    def misbehave(self) -> None:
        self.set_timer(-0.5, Tick())


class DividesByZero(Peer):
    def misbehave(self) -> None:
        self.storage["ratio"] = 1 // 0


class SendsNaN(Peer):
    def misbehave(self) -> None:
        self.send("n2", Reading(celsius=float("nan")))


def run_peers(node: type[Node], nodes: int = 3) -> RunResult:
    lab = Lab(name=node.__name__, description="misuse", node=node, nodes=nodes, settle=0.5)
    return run_sim(lab, SCHEDULE, seed=1)


def events(result: RunResult, kind: str, node: str | None = None) -> list[Event]:
    return [e for e in result.trace if e["type"] == kind and (node is None or e.get("node") == node)]


def assert_only_n1_crashed(result: RunResult, what: str, explanation: str) -> Event:
    """n1 crashed once with a report naming it, ``what`` it was handling and ``explanation``."""
    crashes = events(result, "crash")
    assert [(c["node"], c["reason"]) for c in crashes] == [("n1", "error")]
    crash = crashes[0]
    assert len(result.errors) == 1
    report = result.errors[0]
    assert crash["error"] == report
    assert report.startswith(f"n1 crashed while handling {what}:\n")
    assert explanation in report
    return crash


def assert_others_keep_running(result: RunResult, crash: Event, others: tuple[str, ...]) -> None:
    for other in others:
        assert any(e["t"] > crash["t"] for e in events(result, "send", other)), other
    heal = next(e for e in events(result, "heal") if e["final"])
    assert not [e for e in events(result, "send", "n1") if crash["t"] < e["t"] < heal["t"]], (
        "a crashed node sends nothing until the final heal restarts it"
    )
    assert [e["t"] for e in events(result, "restart", "n1")] == [heal["t"]]


MISUSE = [
    pytest.param(
        SendsToUnknownNode,
        "n1 sent Ping to 'n9', which is not in this cluster (n1, n2, n3)",
        id="send-to-unknown-node",
    ),
    pytest.param(
        SendsUnhandledMessage,
        "n1 sent Unhandled to n2, but SendsUnhandledMessage has no handler for it: "
        "add a method with @on(Unhandled) to SendsUnhandledMessage",
        id="send-unhandled-message",
    ),
    pytest.param(
        SendsUnserializableValue,
        "n1 cannot send Parcel to n2: message.contents: a function cannot be sent or stored",
        id="send-unserializable-value",
    ),
    pytest.param(
        SetsUnhandledTimer,
        "n1: set_timer(..., Unhandled): SetsUnhandledTimer has no handler for it; "
        "add a method with @on_timer(Unhandled)",
        id="timer-without-handler",
    ),
    pytest.param(
        SetsNegativeDelay,
        "n1: set_timer(delay=-0.5, ...): the delay is a number of seconds >= 0",
        id="negative-timer-delay",
    ),
    pytest.param(DividesByZero, "ZeroDivisionError: integer division or modulo by zero", id="handler-raises"),
]


@pytest.mark.parametrize(("node", "explanation"), MISUSE)
def test_misuse_in_a_handler_crashes_only_that_node_with_a_clear_report(
    node: type[Node], explanation: str
) -> None:
    result = run_peers(node)

    crash = assert_only_n1_crashed(result, "timer Tick()", explanation)
    assert crash["t"] == pytest.approx(TICK)
    assert_others_keep_running(result, crash, ("n2", "n3"))
    assert result.trace[-1]["type"] == "end"


def test_a_message_holding_nan_cannot_be_sent() -> None:
    result = run_peers(SendsNaN)

    assert_only_n1_crashed(result, "timer Tick()", "message.celsius")


class RaisesOnStart(Peer):
    def on_start(self) -> None:
        super().on_start()
        if self.id == "n1" and not self.storage.get("raised", False):
            self.storage["raised"] = True
            raise KeyError("config")


class RaisesOnPing(Peer):
    @on(Ping)
    def ping(self, msg: Ping, sender: str) -> None:
        if self.id == "n1" and not self.storage.get("raised", False):
            self.storage["raised"] = True
            raise ValueError(f"bad ping from {sender}")


def test_a_report_of_a_crash_in_on_start_says_so() -> None:
    result = run_peers(RaisesOnStart)

    crash = assert_only_n1_crashed(result, "on_start", "KeyError: 'config'")
    assert crash["t"] == 0.0
    assert_others_keep_running(result, crash, ("n2", "n3"))


def test_a_report_of_a_crash_in_a_message_handler_names_the_message_and_its_sender() -> None:
    result = run_peers(RaisesOnPing)

    crashes = events(result, "crash")
    assert len(crashes) == 1
    handled = re.match(r"n1 crashed while handling (Ping\(n=\d+\) from n\d):", result.errors[0])
    assert handled is not None
    assert_only_n1_crashed(result, handled.group(1), "ValueError: bad ping from")
    assert_others_keep_running(result, crashes[0], ("n2", "n3"))


def test_a_two_node_cluster_survives_its_only_peer_crashing() -> None:
    result = run_peers(DividesByZero, nodes=2)

    crash = assert_only_n1_crashed(result, "timer Tick()", "ZeroDivisionError")
    assert_others_keep_running(result, crash, ("n2",))


# -- the clerk contract and the client history --------------------------------------------


class Register(Node):
    """Answers ``incr`` with a count, refuses ``cas``, never answers ``lost``."""

    def on_start(self) -> None:
        self.count = 0

    @on(Request)
    def request(self, msg: Request, sender: str) -> None:
        if msg.f == "lost":
            return
        if msg.f == "cas":
            self.send(sender, Reply(msg.req, ok=False))
            return
        self.count += 1
        self.send(sender, Reply(msg.req, ok=True, value=self.count))


class RegisterClerk(Clerk):
    def on_start(self) -> None:
        self.req = 0

    def on_invoke(self, op: Op) -> None:
        self.req += 1
        self.send("n1", Request(self.req, op.f))

    @on(Reply)
    def reply(self, msg: Reply, sender: str) -> None:
        if msg.req != self.req:
            return
        if msg.ok:
            self.complete(msg.value)
        else:
            self.fail("compare failed")


class SetResultClerk(RegisterClerk):
    @on(Reply)
    def reply(self, msg: Reply, sender: str) -> None:
        self.complete({msg.value})


class DoubleCompleteClerk(RegisterClerk):
    @on(Reply)
    def reply(self, msg: Reply, sender: str) -> None:
        self.complete(msg.value)
        self.complete(msg.value)


def mixed_ops(rng: random.Random, client: int) -> Op:
    f = rng.choice(["incr", "incr", "cas", "lost"])
    return Op(f, "x", rng.randint(0, 9) if f == "cas" else None)


def only_incr(rng: random.Random, client: int) -> Op:
    return Op("incr", "x")


def run_clients(clerk: type[Clerk], generate: Any, clients: int) -> RunResult:
    workload = Workload(generate=generate, clients=clients, timeout=0.2, think=0.01)
    lab = Lab(name="register", description="clerk contract", node=Register, clerk=clerk,
              workload=workload, nodes=2, settle=0.5)
    return run_sim(lab, SCHEDULE, seed=3)


HISTORY_FIELDS = {"index", "process", "client", "type", "f", "key", "value", "time"}


@pytest.mark.parametrize(
    ("clerk", "explanation"),
    [
        pytest.param(
            SetResultClerk,
            "complete({1}): a client result must be plain JSON data (None, bool, int, float, str, "
            "lists and dicts with string keys): Object of type set is not JSON serializable",
            id="non-json-result",
        ),
        pytest.param(
            DoubleCompleteClerk,
            "c1: complete() or fail() called with no operation in progress",
            id="complete-twice",
        ),
    ],
)
def test_a_clerk_breaking_the_complete_contract_gets_a_clear_report(
    clerk: type[Clerk], explanation: str
) -> None:
    result = run_clients(clerk, only_incr, clients=1)

    assert result.errors, "the clerk's mistake is reported"
    first = result.errors[0]
    assert re.match(r"c1 crashed while handling Reply\(req=1, .*\) from n1:\n", first)
    assert explanation in first
    crash = events(result, "crash", "c1")[0]
    assert (crash["reason"], crash["error"]) == ("error", first)
    assert events(result, "send", "n1"), "the servers keep running"


def test_a_clerk_whose_result_is_not_json_leaves_an_info_and_goes_on_as_a_new_process() -> None:
    result = run_clients(SetResultClerk, only_incr, clients=1)

    first_op = [h for h in result.history if h["index"] == 1]
    assert [h["type"] for h in first_op] == ["invoke", "info"]
    assert [h["process"] for h in first_op] == [0, 0]
    second_invoke = next(h for h in result.history if h["index"] == 2)
    assert second_invoke["process"] == 1
    assert not [h for h in result.history if h["type"] == "ok"]


def test_history_entries_have_the_documented_fields_and_pair_up_by_index() -> None:
    result = run_clients(RegisterClerk, mixed_ops, clients=2)
    history = result.history

    assert result.errors == []
    assert {h["type"] for h in history} == {"invoke", "ok", "fail", "info"}
    for h in history:
        assert set(h) == HISTORY_FIELDS, h
        assert h["client"] in ("c1", "c2")
    times = [h["time"] for h in history]
    assert times == sorted(times)

    by_index: dict[int, list[Event]] = {}
    for h in history:
        by_index.setdefault(h["index"], []).append(h)
    assert sorted(by_index) == list(range(1, len(by_index) + 1))
    for index, (invoke, done) in by_index.items():
        assert invoke["type"] == "invoke", index
        assert done["type"] in ("ok", "fail", "info"), index
        assert (done["process"], done["client"], done["f"], done["key"]) == (
            invoke["process"], invoke["client"], invoke["f"], invoke["key"]
        )
        if done["type"] == "ok":
            assert invoke["f"] == "incr" and isinstance(done["value"], int)
        elif done["type"] == "fail":
            assert (invoke["f"], done["value"]) == ("cas", "compare failed")
        else:
            assert done["value"] is None
    cas = [h for h in history if h["type"] == "invoke" and h["f"] == "cas"]
    assert all(isinstance(h["value"], int) for h in cas), "an invoke records the op's value"


def test_after_an_info_the_clerk_continues_as_a_new_process() -> None:
    result = run_clients(RegisterClerk, mixed_ops, clients=2)

    for client in ("c1", "c2"):
        mine = [h for h in result.history if h["client"] == client]
        process = mine[0]["process"]
        saw_info = False
        for h in mine:
            assert h["process"] == process, (client, h)
            if h["type"] == "info":
                process += 2  # the next process number of this client (2 clients)
                saw_info = True
        assert saw_info, f"{client} had no timed-out operation in this run"
    replaced = [e for e in result.trace if e["type"] == "crash" and e["reason"] == "replaced"]
    assert replaced, "a timed-out clerk is replaced by a fresh one"


def test_no_two_clients_share_a_process_number() -> None:
    result = run_clients(RegisterClerk, mixed_ops, clients=2)

    processes = {
        client: {h["process"] for h in result.history if h["client"] == client}
        for client in ("c1", "c2")
    }
    assert processes["c1"].isdisjoint(processes["c2"]), processes


class ClerkRaisingOnStart(RegisterClerk):
    def on_start(self) -> None:
        raise KeyError("no servers configured")


def test_a_clerk_that_raises_in_on_start_is_reported_not_restarted_forever() -> None:
    result = run_clients(ClerkRaisingOnStart, only_incr, clients=1)

    assert result.errors[0].startswith("c1 crashed while handling on_start:\n")


class Echo(Node):
    """Answers every Ping with two: a storm that doubles each round trip."""

    def on_start(self) -> None:
        if self.id == "n1":
            self.send("n2", Ping(0))

    @on(Ping)
    def handle_ping(self, msg: Ping, sender: str) -> None:
        self.send(sender, Ping(msg.n + 1))
        self.send(sender, Ping(msg.n + 1))


def test_a_message_storm_stops_the_run_early_with_who_sent_what() -> None:
    from labs.runtime.lab import no_node_errors
    from labs.runtime.simnodes import MAX_SENDS_PER_SECOND

    result = run_peers(Echo, nodes=2)
    end = result.trace[-1]
    assert end["type"] == "end" and end["t"] < 1.0, end  # stopped long before the schedule's end
    assert f"sent more than {MAX_SENDS_PER_SECOND:,} messages in one simulated second" in end["stopped"]
    assert "the last was Ping to n" in end["stopped"]
    assert str(no_node_errors(result)[0]) == end["stopped"]


def test_each_kind_of_class_shows_only_its_own_facilities() -> None:
    """A clerk has no storage and no peers to broadcast to; files and works are there only for a
    lab that mixes in SharedFiles, and a class without them says how to get them."""
    node_only = {"storage", "peers", "broadcast"}
    clerk_only = {"on_invoke", "complete", "fail"}
    assert node_only <= set(dir(Node())) and not clerk_only & set(dir(Node()))
    assert clerk_only <= set(dir(Clerk())) and not node_only & set(dir(Clerk()))
    assert not {"files", "start_work"} & (set(dir(Node())) | set(dir(Clerk())))
    assert not any(hasattr(cls, name) for cls in (Node, Clerk) for name in ("files", "start_work"))

    class Worker(SharedFiles, Node):
        pass

    class Server(Node):
        pass

    assert {"files", "start_work", "storage"} <= set(dir(Worker())) and hasattr(Worker, "start_work")
    with pytest.raises(AttributeError, match=r"Server has no start_work: .*class Server\(SharedFiles, \.\.\.\)"):
        Server().start_work(print)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="'Server' object has no attribute 'stroage'"):
        Server().stroage  # type: ignore[attr-defined]  # noqa: B018 - the lookup is the test
