"""The few Linux system calls that cut a process off, through ``ctypes``: ``unshare`` into new
namespaces, ``mount`` (a tmpfs, a bind, a read-only remount) and ``umount2``. Used by the
nursery to seal a node's process and by the grader's sandbox to give a grading a file system of
its own."""

from __future__ import annotations

import ctypes
import os
import re
from typing import Any

CLONE = {"NEWNS": 0x20000, "NEWUTS": 0x4000000, "NEWIPC": 0x8000000, "NEWUSER": 0x10000000,
         "NEWPID": 0x20000000, "NEWNET": 0x40000000}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 38, 36

_ST_TO_MS = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: 8, os.ST_NOATIME: 1024,
             os.ST_NODIRATIME: 2048, os.ST_RELATIME: 1 << 21}
"""A mount's flags as ``statvfs`` says them, and as ``mount`` takes them (kept on a remount: in a
user namespace the flags a mount came with are locked)."""


class IsolationError(OSError):
    """A process could not be cut off (no namespaces here?): what needed it must not go on."""


def load_libc() -> Any:
    """The C library; load it before forking (loading takes locks a fork may leave held)."""
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def mount(lib: Any, source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    check(lib.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None), f"mount {target}")


def unmount(lib: Any, target: str) -> None:
    """Detach the mount at ``target`` (lazily: it goes once nothing uses it)."""
    check(lib.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def read_only_elsewhere(lib: Any, own: set[str]) -> None:
    """Every mount but ``own`` (and ``/proc``'s) becomes read-only, in this process's mount
    namespace only: a folder anyone may write to (``/run/lock``...) would be a way to leave
    files for others, or to talk past the network."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        targets = [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4]) for line in f]
    for target in dict.fromkeys(targets):
        if target in own or target == "/proc" or target.startswith("/proc/"):
            continue
        try:
            flags = os.statvfs(target).f_flag
        except OSError:  # a mount hidden under another one
            continue
        if flags & os.ST_RDONLY:
            continue
        keep = sum(ms for st, ms in _ST_TO_MS.items() if flags & st)
        mount(lib, "none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, None)
