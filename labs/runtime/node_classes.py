"""A cluster's node classes: which class each node runs, the codec of their messages, and the
name a node's process finds a class by."""

from __future__ import annotations

from collections.abc import Sequence

from .codec import Codec
from .node import Endpoint


def class_path(cls: type | None) -> str | None:
    """``module:QualifiedName``: how a node's process finds a class it is told to run."""
    return None if cls is None else f"{cls.__module__}:{cls.__qualname__}"


def cluster_codec(classes: Sequence[type[Endpoint]]) -> Codec:
    """A codec that knows every message type any node of the cluster handles."""
    codec = Codec()
    for cls in classes:
        for t in cls.handled_messages():
            codec.register(t)
    return codec


def cluster_classes(server: type[Endpoint], clerk: type[Endpoint] | None, servers: Sequence[str],
                    clients: Sequence[str]) -> tuple[dict[str, type[Endpoint]], Codec]:
    """Each node's class by name (servers, then clients when the lab has a clerk), and the codec
    of the cluster's messages."""
    classes: dict[str, type[Endpoint]] = {n: server for n in servers}
    if clerk is not None:
        classes.update({c: clerk for c in clients})
    return classes, cluster_codec([server] + ([clerk] if clerk is not None else []))
