"""The sandbox: student code runs as another, unprivileged OS user, and only data comes back.

Why another user, and not just another process: a process of the grader's own user can read
whatever the grader can (the hidden schedules, the reference solution, the gradebook, other
students' work) and no resource limit binds it (``RLIMIT_NPROC`` counts per user, and root is
exempt). So every process that runs student code (a simulator run's child, every node of a Ray
run) runs as one of the users ``ds-sandbox-0`` ... ``ds-sandbox-3`` that ``scripts/setup.sh``
creates, with:

* a Python of its own (``/opt/ds-course-sandbox/venv``, Debian's python3 with Ray; the grader's
  own Python may live where that user cannot reach);
* the *released* ``labs`` and ``autograder`` packages (reference solutions stripped, hidden
  suites left out), so that ``from labs.rpc.node import KVServer`` gets the student skeleton;
* a work folder of its own with a disk of its own (a tmpfs with a size), in which it also gets
  its own ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run/lock`` (see :mod:`.sandbox_fs`), and a
  Ray instance of its own on loopback, started by a helper process of that user (see
  :mod:`.sandbox_ray`). A Ray cluster is one trust domain (any worker may start tasks on any
  node), so the sandbox never joins the grader's;
* limits: processes at once, memory of all its processes together, its disk, file size, no core
  files; a watchdog kills every process of the user when one is crossed, and the run is failed
  with the reason. Files it leaves in its ``/tmp`` and the like are found, removed and reported.

Before any student code runs, the sandbox checks, as that user, that it cannot read the
instructor's files (the lab's source, its hidden suite, the output and submission folders). When
it can, the grader makes the project's folder private (mode 700) and checks again; if the files
are still readable, grading stops with what to fix.

One grading holds one sandbox user (a lock file under ``/opt/ds-course-sandbox/locks``), so two
submissions graded at once on one machine never share a user, and each other's files are out of
reach.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import labs

from .child import finish
from .release import HIDDEN, _marker_lines, strip_solutions
from .sandbox_fs import MAX_DISK, PREFIX, ROOT, WORK, Disk, remove
from .sandbox_fs import remove_leftovers as _remove_leftovers
from .sandbox_ray import SandboxHosts

USERS = tuple(f"ds-sandbox-{i}" for i in range(4))
"""The sandbox users; one grading at a time holds each."""
MAX_PROCESSES = 64
"""Processes of the sandbox user at once (a Ray run of 7 nodes was seen to need 15)."""
MAX_THREADS = 1024
"""``RLIMIT_NPROC`` (Linux counts threads; that Ray run had 321): the kernel's own stop for a fork bomb."""
MAX_MEMORY = 6 << 30
"""Bytes of resident memory of all the sandbox's processes together."""
MAX_FILE = 1 << 30
"""Bytes one file written in the sandbox may grow to (``RLIMIT_FSIZE``)."""
WATCH_EVERY = 0.25
"""Seconds between two looks of the watchdog."""


class SandboxError(RuntimeError):
    """The sandbox cannot be used here; the message says why and what to do."""


def unavailable() -> str | None:
    """Why grading cannot use the sandbox on this machine, or None when it can."""
    if not hasattr(os, "getuid") or os.getuid() != 0:
        return "running student code as another user needs root (run the grader as root)"
    if not python().exists():
        return f"{python()} is missing: run `bash scripts/setup.sh` as root (it installs the sandbox)"
    missing = [u for u in USERS if not _user_exists(u)]
    if missing:
        return f"the sandbox users {', '.join(missing)} do not exist: run `bash scripts/setup.sh` as root"
    return None


def python() -> Path:
    return ROOT / "venv" / "bin" / "python"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class Sandbox:
    """One sandbox user and work folder, held from :func:`open_sandbox` until it closes."""

    def __init__(self, user: str, lock: IO[str], base: Path) -> None:
        entry = pwd.getpwnam(user)
        self.user, self.uid, self.gid = user, entry.pw_uid, entry.pw_gid
        self.lock = lock
        self.base = base  # root's, mode 711: the user can pass through, not list or change it
        self.disk = Disk(base)  # the grading's whole disk, and its private /tmp and the like
        self.home = self.disk.home  # the user's, mode 700
        self.code = base / "code"  # the released packages, root's, read-only to the user
        self.submission = base / "submission"  # a copy of the student's files, read-only
        self.impl = self.submission  # what to run: that folder, or the file in it
        self.python = python()
        self.incidents: list[str] = []
        self._incident_lock = threading.Lock()
        self._kill_lock = threading.Lock()  # no process starts while a kill is under way
        self._look_lock = threading.Lock()  # one look at a time (the watchdog's, or a last one)
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name=f"sandbox-{user}", daemon=True)
        self._hosts: SandboxHosts | None = None

    # -- running things as the user --------------------------------------------------------

    def env(self) -> dict[str, str]:
        """A clean environment: nothing of the grader's (no tokens, no Ray address)."""
        return {
            "PATH": f"{python().parent}:/usr/bin:/bin", "HOME": str(self.home), "USER": self.user,
            "LANG": "C.UTF-8", "PYTHONPATH": str(self.code), "PYTHONDONTWRITEBYTECODE": "1",
            "TMPDIR": str(self.home / "tmp"), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_IGNORE_UNHANDLED_ERRORS": "1", "RAY_USAGE_STATS_ENABLED": "0",
        }

    def popen(self, args: Sequence[str], extra_limits: Callable[[], None] | None = None,
              **options: Any) -> subprocess.Popen[Any]:
        """Start ``args`` as the sandbox user, in its home, with its limits, in a session of its own."""

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_NPROC, (MAX_THREADS, MAX_THREADS))
            resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE, MAX_FILE))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if extra_limits is not None:
                extra_limits()

        with self._kill_lock:  # a kill under way (the watchdog's) would take the new process too
            return subprocess.Popen(list(args), cwd=self.home, env=self.env(), start_new_session=True,
                                    preexec_fn=self.disk.enter(self.uid, self.gid, limits), **options)

    def run(self, args: Sequence[str], stdin: str, timeout: float, pass_fds: Sequence[int] = (),
            extra_limits: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str] | None:
        """Like :func:`autograder.child.run_child`, as the sandbox user: None when out of time."""
        child = self.popen(args, extra_limits, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, pass_fds=tuple(pass_fds))
        return finish(child, stdin, timeout)

    @property
    def hosts(self) -> SandboxHosts:
        """Where the node processes of this sandbox's Ray runs come from (its Ray instance starts
        on first use and lives until the sandbox closes)."""
        if self._hosts is None:
            self._hosts = SandboxHosts(self)
        return self._hosts

    # -- what went wrong -------------------------------------------------------------------

    def incident(self, text: str) -> None:
        with self._incident_lock:
            self.incidents.append(text)

    def take_incidents(self) -> list[str]:
        """What the sandbox saw since the last call: limits crossed, files left outside.

        It takes one more look first, so that what a run did just before it ended is its own,
        not the next run's."""
        self.look()
        for path in self.disk.strays():
            self.incident(f"the submission wrote {self.disk.shown(path)}, outside its work folder (it was removed)")
            remove(path)
        with self._incident_lock:
            found, self.incidents = self.incidents, []
        return found

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_EVERY):
            self.look()

    def look(self) -> None:
        """One look of the watchdog: kill every process of the user if a limit is crossed."""
        with self._look_lock:
            pids = self.processes()
            # The incident is noted before the kill: the kill ends the run, whose outcome takes it.
            if len(pids) > MAX_PROCESSES:
                self.incident(f"the submission ran more than {MAX_PROCESSES} processes at once (a fork "
                              "bomb?): every one of them was killed")
                self.kill_all()
                return
            if self.disk.full():
                biggest = self.disk.biggest()
                self.incident(f"the submission filled its {MAX_DISK / 2**30:.0f} GiB of disk" + (
                    f" (the biggest file: {biggest[0]}, {biggest[1] / 2**20:.0f} MiB)" if biggest else "")
                    + ": every one of its processes was killed and its files removed")
                self.kill_all()
                self.disk.clear(self.uid, self.gid)
                return
            used = sum(_resident(p) for p in pids)
            if used > MAX_MEMORY:
                self.incident(f"the submission's processes used {used / 2**30:.1f} GiB of memory together, "
                              f"more than the {MAX_MEMORY / 2**30:.0f} GiB allowed: every one was killed")
                self.kill_all()

    def processes(self) -> list[int]:
        """The process ids of the sandbox user."""
        return _processes_of(self.uid)

    def kill_all(self) -> None:
        """Kill every process of the sandbox user, until none is left.

        Killing them one by one loses to a fork bomb (each death frees a slot the others
        refill); ``kill(-1, SIGKILL)`` sent *as that user* reaches all of them at once, and the
        kernel holds off new forks while it does."""
        with self._kill_lock:
            self._kill_all()

    def _kill_all(self) -> None:
        for _ in range(100):
            if not self.processes():
                return
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child: only system calls, then out
                try:
                    os.setgroups([])
                    os.setgid(self.gid)
                    os.setuid(self.uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            time.sleep(0.02)
        raise SandboxError(f"could not kill the processes of {self.user}: {self.processes()[:10]}")

    # -- secrets ---------------------------------------------------------------------------

    def readable(self, paths: Sequence[Path]) -> list[Path]:
        """Which of ``paths`` the sandbox user can read (asked as that user, so that modes, owners
        and ACLs all count)."""
        probe = ("import json, os, sys\n"
                 "out = []\n"
                 "for p in json.load(sys.stdin):\n"
                 "    try:\n"
                 "        os.listdir(p) if os.path.isdir(p) else open(p, 'rb').close()\n"
                 "        out.append(p)\n"
                 "    except OSError:\n"
                 "        pass\n"
                 "print(json.dumps(out))\n")
        done = self.run([str(python()), "-I", "-c", probe], json.dumps([str(p) for p in paths]), 60.0)
        if done is None or done.returncode != 0:
            raise SandboxError(f"could not ask the sandbox user what it can read: {done and done.stderr}")
        return [Path(p) for p in json.loads(done.stdout)]

    def make_private(self, secrets: Sequence[Path], project: Path) -> list[Path]:
        """Make sure the user cannot read ``secrets``: if it can, make ``project`` private to its
        owner (mode 700) and check again. Returns the folders made private."""
        secrets = [p for p in secrets if p.exists()]
        seen = self.readable(secrets)
        changed: list[Path] = []
        if seen and project.exists():
            mode = stat.S_IMODE(project.stat().st_mode)
            if mode & 0o077:
                project.chmod(mode & 0o700)
                changed.append(project)
            seen = self.readable(secrets)
        if seen:
            raise SandboxError("the sandbox user can read " + ", ".join(map(str, seen)) + ": make them "
                               "private (for example `chmod 700` on the folder that holds them) and grade again")
        return changed

    # -- life cycle ------------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        if self._hosts is not None:
            self._hosts.close()
        self.kill_all()
        self.disk.unmount()
        shutil.rmtree(self.base, ignore_errors=True)
        with contextlib.suppress(OSError):
            fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()


@contextlib.contextmanager
def open_sandbox(submission: Path, wait: float = 3600.0) -> Iterator[Sandbox]:
    """A sandbox holding a copy of ``submission`` (a file or a folder of ``.py`` files) and the
    released packages; every process of its user is killed and its folder removed on exit."""
    reason = unavailable()
    if reason is not None:
        raise SandboxError(reason)
    user, lock = _acquire(wait)
    box: Sandbox | None = None
    try:
        remove_leftovers(user)
        WORK.mkdir(mode=0o711, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix=PREFIX, dir=WORK))
        box = Sandbox(user, lock, base)
        box.kill_all()  # left by a grader that was killed before it could clean up
        base.chmod(0o711)
        try:
            box.disk.mount(box.uid, box.gid)
        except OSError as exc:
            raise SandboxError(f"could not give the grading a disk of its own ({exc}): the sandbox needs root "
                               "allowed to mount (CAP_SYS_ADMIN); grade with --sandbox off on this machine") from None
        release_packages(box.code)
        box.impl = _copy_submission(submission, box.submission, box.gid)
        box._watchdog.start()
        yield box
    finally:
        if box is not None:
            box.close()
        else:
            lock.close()


def _acquire(wait: float) -> tuple[str, IO[str]]:
    """Lock a free sandbox user, waiting up to ``wait`` seconds for one."""
    locks = ROOT / "locks"
    locks.mkdir(mode=0o700, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        for user in USERS:
            f = open(locks / f"{user}.lock", "a")  # noqa: SIM115 (held until the sandbox closes)
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            return user, f
        if time.monotonic() > deadline:
            raise SandboxError(f"every sandbox user was busy for {wait:g} s")
        time.sleep(0.5)


def release_packages(target: Path) -> None:
    """The ``labs`` and ``autograder`` packages as a student gets them: solutions stripped, hidden
    suites left out. Read-only to the sandbox user."""
    for package in (Path(labs.__file__).parent, Path(__file__).parent):  # labs/, and this autograder/
        for src in sorted(package.rglob("*")):
            rel = src.relative_to(package.parent)
            if (src.is_dir() or "__pycache__" in rel.parts or any(p in HIDDEN for p in rel.parts)
                    or src.suffix in (".pyc", ".pyo")):
                continue
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            if src.suffix == ".py":
                text = src.read_text(encoding="utf-8")
                dst.write_text(strip_solutions(text, str(rel)) if _marker_lines(text, str(rel)) else text,
                               encoding="utf-8")
            else:
                shutil.copyfile(src, dst)
            dst.chmod(0o644)
    for folder in [target, *[p for p in target.rglob("*") if p.is_dir()]]:
        folder.chmod(0o755)


def _copy_submission(submission: Path, target: Path, gid: int) -> Path:
    """Copy the submission's ``.py`` files, readable by the grader and the sandbox's group only
    (not by the other sandbox users, who may be grading a classmate at this moment); returns the
    copy of what was given (file or folder)."""
    target.mkdir(mode=0o750)
    os.chown(target, 0, gid)
    target.chmod(0o750)
    files = [submission] if submission.is_file() else sorted(submission.glob("*.py"))
    for f in files:
        shutil.copyfile(f, target / f.name)
        os.chown(target / f.name, 0, gid)
        (target / f.name).chmod(0o640)
    return target / submission.name if submission.is_file() else target


def remove_leftovers(holding: str) -> list[Path]:
    """Remove the work folders of gradings that ended without cleaning up, and their disks
    (:func:`.sandbox_fs.remove_leftovers`); ``holding`` is this grading's user. Returns them."""
    users = {pwd.getpwnam(u).pw_uid: u for u in USERS if _user_exists(u)}
    return _remove_leftovers(holding, users, _free)


def _free(user: str) -> bool:
    """Whether no grading holds ``user`` now (its lock can be taken; it is let go at once)."""
    with open(ROOT / "locks" / f"{user}.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def _processes_of(uid: int) -> list[int]:
    """The live processes of ``uid`` (zombies, already dead and waiting to be reaped, left out)."""
    pids: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        state = f.read().rsplit(b")", 1)[1].split()[0]
                    if state != b"Z":
                        pids.append(int(entry))
    return pids


def _resident(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def describe() -> str:
    """One line for a report: where student code runs."""
    reason = unavailable()
    return f"not sandboxed ({reason})" if reason else f"sandboxed as {', '.join(USERS)} ({python()})"


if __name__ == "__main__":  # pragma: no cover - a diagnostic: `python -m autograder.sandbox`
    print(describe())
    sys.exit(0 if unavailable() is None else 1)
