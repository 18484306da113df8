"""The simulator's shared files, as a node's process asks about them.

A node's process (:mod:`.nodeside`) hands its effects to the world as data, but a question about
the run's shared files needs an answer at once: the node's effects so far go with the question,
the world applies them, then answers. From a handler the questions are those of
:class:`~labs.runtime.files.Files` (each immediate); from a work, those of
:class:`~labs.runtime.simwork.WorkHost` (a write begins, then ends when its time has passed).
Everything a node's process asks is checked first: it may run in a process of its own and say
anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .files import MemoryFiles, _text, check_name, check_room
from .nodeside import CallRefused, Effect

if TYPE_CHECKING:
    from .sim import Simulation, _Slot


class SlotFiles:
    """The world as one node's process calls it (see :mod:`.nodeside`): its effects so far, then
    one question about the run's shared files, from a handler or from a work."""

    def __init__(self, sim: Simulation, slot: _Slot) -> None:
        self._sim = sim
        self._slot = slot
        self._files = MemoryFiles(sim.files, lambda kind, **f: sim._emit(kind, node=slot.name, **f))

    def call(self, effects: list[Effect], request: tuple[Any, ...]) -> tuple[Any, int]:
        sim = self._sim
        sim._apply_effects(self._slot, effects)
        try:
            answer = self._answer(request)
        except (FileNotFoundError, ValueError, TypeError) as exc:
            raise CallRefused(type(exc).__name__, str(exc)) from None
        except (KeyError, AttributeError) as exc:  # only a node process that talks nonsense gets here
            raise CallRefused("NodeError", f"a call that makes no sense: {request[0]!r} ({exc!r})") from None
        return answer, sim._ids

    def _answer(self, request: tuple[Any, ...]) -> Any:
        kind, args = request[0], request[1:]
        if kind == "files" and args and args[0] in FILE_OPERATIONS:
            return getattr(self._files, args[0])(*args[1:])
        work = _WORK_CALLS.get(kind)
        if work is None:
            raise ValueError(f"no such call: {kind!r}")
        return work(self, *args)

    def _emit(self, **fields: Any) -> None:
        self._sim._emit("file", node=self._slot.name, **fields)

    def text(self, name: str) -> str | None:
        return self._sim.files.get(check_name(name))

    def names(self) -> list[str]:
        return list(self._sim.files)

    def write_begins(self, name: str, text: str, duration: float) -> int:
        name, text = check_name(name), _text(text)
        if type(duration) not in (int, float) or not 0 <= duration < math.inf:
            raise ValueError(f"a write's duration is a number of seconds >= 0, not {duration!r}")
        sim = self._sim
        pending = [t for slot in sim.slots.values() for _, t, _, _ in slot.writing.values()]
        check_room([*sim.files.values(), *pending], sim.files.get(name), text)
        sim.files[name] = ""  # truncated: it fills as the write goes on
        self._emit(op="write", name=name, bytes=len(text.encode("utf-8")))
        sim._ids += 1
        self._slot.writing[sim._ids] = (name, text, sim.now, sim.now + duration)
        return sim._ids

    def write_ends(self, key: int) -> None:
        name, text, _, _ = self._slot.writing.pop(key)
        self._sim.files[name] = text
        self._emit(op="written", name=name, bytes=len(text.encode("utf-8")))

    def renamed(self, src: str, dst: str) -> None:
        dst = check_name(dst)
        text = self._sim.files.pop(check_name(src))
        self._sim.files[dst] = text
        self._emit(op="rename", name=src, to=dst, bytes=len(text.encode("utf-8")))

    def removed(self, name: str) -> None:
        del self._sim.files[name]
        self._emit(op="remove", name=name)


FILE_OPERATIONS = frozenset({"read", "write", "rename", "remove", "exists", "list"})
_WORK_CALLS: dict[str, Callable[..., Any]] = {
    "text": SlotFiles.text, "names": SlotFiles.names, "write_begins": SlotFiles.write_begins,
    "write_ends": SlotFiles.write_ends, "renamed": SlotFiles.renamed, "removed": SlotFiles.removed,
}
