"""The sandbox's file system: where a grading's processes may write, and how much.

Each grading has a work folder ``/opt/ds-course-sandbox/work/dss-*`` (root's, mode 711):

* ``code/``: the released packages (root's, read-only to the sandbox user);
* ``submission/``: a copy of the student's files (root's and the sandbox group's, 750/640, so
  not readable by the other sandbox users, who may be grading a classmate at this moment);
* ``disk/``: a tmpfs of :data:`MAX_DISK` bytes, the grading's whole disk, holding ``home/``
  (the user's: its ``HOME``, ``TMPDIR``, Ray's folder, the runs' files) and ``places/``.

Every process the sandbox starts enters a mount namespace of its own, in which ``/tmp``,
``/var/tmp``, ``/dev/shm`` and ``/run/lock`` (the places anyone may write to) are its grading's
folders in ``places/``, and every other mount is read-only. So nothing one grading writes is
seen by another, all it writes counts against its disk, and all of it goes when the grading
ends (the tmpfs is unmounted). A grader killed before it could clean up leaves its folder and
mount behind: the next grading removes them (:func:`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labs.runtime.mounts import (
    CLONE,
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    load_libc,
    mount,
    read_only_elsewhere,
    unmount,
)

ROOT = Path(os.environ.get("DS_SANDBOX_ROOT", "/opt/ds-course-sandbox"))
"""Where ``scripts/setup.sh`` installs the sandbox's Python and lock files."""
WORK = ROOT / "work"
"""Where each grading's work folder is made."""
PREFIX = "dss-"
"""Each grading's work folder is ``WORK/dss-*``."""
MAX_DISK = 2 << 30
"""Bytes a grading's processes may write in all (their home and the places anyone may write to)."""
PLACES = {"/tmp": "tmp", "/var/tmp": "var-tmp", "/dev/shm": "dev-shm", "/run/lock": "run-lock"}
"""The places anyone may write to, and the folder of ``places/`` each grading gets instead."""
FULL = 32 << 20
"""A disk with fewer bytes free than this is full: the watchdog stops the submission."""
OWN = {"/tmp/ray"}
"""What the sandbox itself keeps in those places (its Ray's folder: ``sandbox_ray.RAY_FOLDER``)."""
ABANDONED = 3600.0
"""Seconds after which a work folder that never got a home is taken for a dead grader's."""


class Disk:
    """A grading's ``disk/``: a tmpfs with a size, mounted for as long as the grading lasts."""

    def __init__(self, base: Path) -> None:
        self.root = base / "disk"
        self.home = self.root / "home"
        self.places = {place: self.root / "places" / name for place, name in PLACES.items()}
        self._libc = load_libc()  # here, not after a fork

    def mount(self, uid: int, gid: int) -> None:
        self.root.mkdir(mode=0o711)
        mount(self._libc, "tmpfs", str(self.root), "tmpfs", MS_NOSUID | MS_NODEV, f"size={MAX_DISK},mode=0711")
        (self.root / "places").mkdir(mode=0o711)
        for folder in [self.home, self.home / "tmp", *self.places.values()]:
            folder.mkdir(mode=0o700)
            os.chown(folder, uid, gid)

    def used(self) -> int:
        """Bytes written to the disk."""
        try:
            st = os.statvfs(self.root)
        except OSError:
            return 0
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def full(self) -> bool:
        return self.used() > MAX_DISK - FULL

    def biggest(self) -> tuple[str, int] | None:
        """The biggest file on the disk, as the user's processes name it, and its size."""
        best: tuple[str, int] | None = None
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    size = os.lstat(os.path.join(folder, name)).st_size
                    if best is None or size > best[1]:
                        best = (self.shown(Path(folder) / name), size)
        return best

    def shown(self, path: Path) -> str:
        """``path`` as the sandbox's processes see it (``/tmp/x``, not ``.../places/tmp/x``)."""
        for place, folder in self.places.items():
            if path.is_relative_to(folder):
                return str(Path(place) / path.relative_to(folder))
        return str(path)

    def strays(self) -> list[Path]:
        """What the user left in the places anyone may write to."""
        found: list[Path] = []
        for folder in self.places.values():
            with contextlib.suppress(OSError):
                found += sorted(p for p in folder.iterdir() if self.shown(p) not in OWN)
        return found

    def clear(self, uid: int, gid: int) -> None:
        """Remove everything written (after a kill: nothing runs that could be using it)."""
        for folder in [self.home, *self.places.values()]:
            with contextlib.suppress(OSError):
                for entry in list(folder.iterdir()):
                    remove(entry)
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            (self.home / "tmp").mkdir(mode=0o700)
            os.chown(self.home / "tmp", uid, gid)

    def unmount(self) -> None:
        with contextlib.suppress(OSError):
            unmount(self._libc, str(self.root))

    def enter(self, uid: int, gid: int, then: Callable[[], None]) -> Callable[[], None]:
        """What a new process of the sandbox does before it runs anything (``preexec_fn``, as
        root): a mount namespace of its own with the grading's places, every other mount
        read-only; then it becomes the sandbox user and calls ``then``."""
        lib = self._libc
        binds = [(place, str(folder)) for place, folder in self.places.items() if os.path.isdir(place)]
        own = {str(self.root), *(place for place, _ in binds)}

        def preexec() -> None:
            if lib.unshare(CLONE["NEWNS"]) != 0:
                raise OSError("unshare(CLONE_NEWNS) failed")
            mount(lib, "none", "/", None, MS_REC | MS_PRIVATE, None)
            for place, folder in binds:
                mount(lib, folder, place, None, MS_BIND, None)
            read_only_elsewhere(lib, own)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            then()

        return preexec


def remove_leftovers(holding: str, users: dict[int, str], free: Callable[[str], bool]) -> list[Path]:
    """Remove the work folders (and their disks) of gradings that ended without cleaning up (a
    grader killed by SIGKILL, a machine that lost power): each folder whose sandbox user (the
    owner of its home; ``users`` maps uids to names) is ``holding`` (this grading's) or is
    ``free`` now. A folder with no home is removed once it is :data:`ABANDONED`. Returns what
    was removed."""
    removed: list[Path] = []
    lib: Any = None
    for base in sorted(WORK.glob(PREFIX + "*")):
        try:
            made = os.lstat(base)
        except OSError:
            continue
        if not stat.S_ISDIR(made.st_mode) or made.st_uid != os.getuid():
            continue  # not a grader's folder
        try:
            home: int | None = os.lstat(base / "disk" / "home").st_uid
        except OSError:  # no home: killed at its very start, or its disk is gone with a reboot
            home = None
        user = users.get(home) if home is not None else None
        if user is None:
            if time.time() - made.st_mtime < ABANDONED:
                continue  # a grading just starting
        elif user != holding and not free(user):
            continue  # a grading under way
        if os.path.ismount(base / "disk"):
            lib = lib or load_libc()
            with contextlib.suppress(OSError):
                unmount(lib, str(base / "disk"))
        remove(base)
        removed.append(base)
    return removed


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
