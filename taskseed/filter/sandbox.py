"""Run untrusted generated Python (a reference solution plus assert-style tests) and record the outcome.

The filter stage verifies LLM-generated code examples by running them; the code is untrusted, so every run
is contained in layers, each covering for what the others miss:

1. Process: a child `python -I -B` in its own session and process group, in a throw-away working directory
   that is deleted afterwards, with a minimal environment (no proxies; HOME and TMPDIR are the working
   directory), stdin and stdout discarded and stderr read up to a size cap.
2. Resource limits (set before exec): CPU seconds, address space, file size, no core files, and a task
   count (RLIMIT_NPROC, which the kernel ignores for root).
3. Audit hook (the child's prelude, installed before the untrusted code runs; hooks cannot be removed):
   refuses process creation, network use, ctypes lookups, killing other processes, chdir, symlinks, and
   writes, deletes, renames, links or mode changes outside the working directory. A refusal writes a marker to stderr and
   ends the process at once with a dedicated exit code, so catching the exception cannot turn it into a pass.
4. Network namespace: where the child may unshare(CLONE_NEWNET) (root), it has no network at all.
5. Wall clock: past the limit the whole process group is killed with SIGKILL, and it is killed after every
   run anyway so nothing the program started outlives it.

A run passes only when the process exits 0 and nothing was refused; what it prints does not count.
The audit hook guards against accidents and naive attacks, not against deliberate escapes (patching the
posixpath functions it calls, calling a ctypes function pointer made from a raw address); the process,
limit and namespace layers still hold against those.
"""

from __future__ import annotations

import ctypes
import inspect
import math
import os
import re
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PROGRAM_FILE = "program.py"
BLOCKED_EXIT = 86  # exit code of a run the audit hook stopped
BLOCKED_MARKER = "[sandbox] blocked: "
EXTRA_TASKS = 64  # processes/threads a run may add on top of the machine's current task count
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: float = 5.0
    memory_mb: int = 512
    output_bytes: int = 20_000


@dataclass(frozen=True)
class RunResult:
    passed: bool
    status: str  # "passed" | "failed" | "timeout" | "memory" | "blocked" | "killed" | "error"
    reason: str  # one line, e.g. "blocked: socket.connect", "AssertionError at line 3"
    returncode: int | None
    wall_s: float
    stderr_tail: str


def run_python(code: str, limits: Limits = Limits()) -> RunResult:
    """Run `code` as a program in the sandbox; never raises for anything the program does."""
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="taskseed-sandbox-", ignore_cleanup_errors=True) as workdir:
            return _run_in(workdir, code, limits, start)
    except Exception as exc:  # a sandbox that cannot run the program records it, the filter run goes on
        return RunResult(False, "error", f"sandbox error: {exc!r}", None, time.monotonic() - start, "")


def run_tests(solution: str, tests: str, limits: Limits = Limits()) -> RunResult:
    """Run the solution followed by its tests as one program; line numbers in reasons count from its top."""
    return run_python(f"{solution.rstrip()}\n\n{tests}", limits)


def run_many(programs: list[tuple[str, str]], limits: Limits = Limits(), workers: int = 2) -> list[RunResult]:
    """run_tests over (solution, tests) pairs, `workers` sandboxes at a time; results in input order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda program: run_tests(*program, limits), programs))


def _run_in(workdir: str, code: str, limits: Limits, start: float) -> RunResult:
    Path(workdir, PROGRAM_FILE).write_text(code, encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,  # tempfile then writes inside the working directory, which the hook allows
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",  # one BLAS thread, so importing numpy fits the address-space limit
        "OPENBLAS_NUM_THREADS": "1",
    }
    max_tasks = _task_count() + EXTRA_TASKS
    proc = subprocess.Popen(
        [sys.executable, "-I", "-B", "-c", _CHILD_COMMAND],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: _confine_child(limits, max_tasks),
    )
    try:
        stderr, timed_out = _stderr_tail_until_exit(proc, start + limits.wall_s, limits.output_bytes)
    finally:
        # The process group is the session's: killing it also ends anything the program started.
        # After a normal exit the group id stays reserved while any member lives, so this cannot hit others.
        _kill_group(proc.pid)
        proc.wait()
        proc.stderr.close()
    wall_s = time.monotonic() - start
    stderr_tail = stderr.decode("utf-8", errors="replace")
    if timed_out:
        return RunResult(False, "timeout", f"timeout after {limits.wall_s} s", None, wall_s, stderr_tail)
    status, reason = _classify(proc.returncode, stderr_tail, limits)
    return RunResult(status == "passed", status, reason, proc.returncode, wall_s, stderr_tail)


def _task_count() -> int:
    """All tasks on the machine now (/proc/loadavg): an upper bound on what this user already runs."""
    return int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])


def _confine_child(limits: Limits, max_tasks: int) -> None:
    """Runs in the forked child before exec: its own network namespace where allowed, then the limits."""
    _libc.unshare(CLONE_NEWNET)  # fails without CAP_SYS_ADMIN; the audit hook still refuses sockets
    cpu_s = math.ceil(limits.cpu_s)
    memory = limits.memory_mb * 2**20
    _lower_limit(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)  # SIGXCPU at the soft limit, SIGKILL a second later
    _lower_limit(resource.RLIMIT_AS, memory, memory)
    _lower_limit(resource.RLIMIT_FSIZE, memory, memory)
    _lower_limit(resource.RLIMIT_CORE, 0, 0)
    _lower_limit(resource.RLIMIT_NPROC, max_tasks, max_tasks)


def _lower_limit(kind: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(kind)
    if current_hard != resource.RLIM_INFINITY:  # an unprivileged process may not raise its hard limit
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))


def _stderr_tail_until_exit(proc: subprocess.Popen, deadline: float, limit: int) -> tuple[bytes, bool]:
    """Read stderr, keeping its last `limit` bytes, until the process exits; True when the deadline passed."""
    tail = bytearray()
    fd = proc.stderr.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0 and selector.select(remaining):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            tail += chunk
            del tail[: max(len(tail) - limit, 0)]
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return bytes(tail), True
    return bytes(tail), False


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _classify(returncode: int, stderr: str, limits: Limits) -> tuple[str, str]:
    """(status, reason) of a finished run from its exit code and the tail of its stderr."""
    if returncode == 0:
        return "passed", "passed"
    if returncode == BLOCKED_EXIT:
        refusals = [line for line in stderr.splitlines() if line.startswith(BLOCKED_MARKER)]
        return "blocked", "blocked: " + (refusals[-1].removeprefix(BLOCKED_MARKER) if refusals else "?")
    if returncode == -signal.SIGXCPU:
        return "timeout", f"CPU time limit of {limits.cpu_s} s exceeded"
    if returncode < 0:
        return "killed", f"killed by {signal.Signals(-returncode).name}"
    error = _last_exception(stderr)
    if error is None:
        return "failed", f"exit code {returncode}"
    return ("memory" if error.startswith("MemoryError") else "failed"), error


def _last_exception(stderr: str) -> str | None:
    """'AssertionError at line 3: message' from the last traceback in stderr, or None without one."""
    _, found, traceback = stderr.rpartition("Traceback (most recent call last):")
    if not found:
        return None
    lines = [line for line in traceback.splitlines() if line.strip()]
    last_line = [line for line in lines if not line.startswith(" ")][-1:]
    if not last_line:
        return None
    name, _, message = last_line[0].partition(":")
    program_lines = re.findall(rf'File "{re.escape(PROGRAM_FILE)}", line (\d+)', traceback)
    where = f" at line {program_lines[-1]}" if program_lines else ""
    message = message.strip()[:200]
    return f"{name}{where}" + (f": {message}" if message else "")


def _audit_hook(workdir: str, blocked_exit: int, blocked_marker: str) -> Callable[[str, tuple], None]:
    """The child's audit hook: end the process, marked as blocked, at the first refused operation.

    Everything it uses is bound here, before the program runs, and only the interpreter's hook list holds it,
    so the program cannot rebind what it calls; it never raises, so no traceback exposes its frame.
    """
    import os

    fsdecode, getcwd, getpid, getpgid, readlink = os.fsdecode, os.getcwd, os.getpid, os.getpgid, os.readlink
    write, exit_now, isdir, join, realpath = os.write, os._exit, os.path.isdir, os.path.join, os.path.realpath
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    refused_events = {
        "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "subprocess.Popen",
        "_posixsubprocess.fork_exec",
        "os.symlink",  # a link could point the realpath checks below at anything
        "os.chdir",  # relative paths below are resolved against the working directory
        "sys._current_frames", "gc.get_objects", "gc.get_referrers", "gc.get_referents",  # reach the hook
    }  # fmt: skip
    # event -> (index of a path argument, index of its dir_fd argument or None), for each path it changes
    path_arguments = {
        "os.remove": [(0, 1)], "os.rmdir": [(0, 1)], "os.mkdir": [(0, 2)], "os.rename": [(0, 2), (1, 3)],
        "os.link": [(0, 2), (1, 3)], "os.chmod": [(0, 2)], "os.chown": [(0, 3)], "os.utime": [(0, 3)],
        "os.truncate": [(0, None)], "os.setxattr": [(0, None)], "os.removexattr": [(0, None)],
    }  # fmt: skip

    def resolve(path: object, dir_fd: int | None = None) -> str:
        if isinstance(path, int):  # a file descriptor: the file it is open on
            return readlink(f"/proc/self/fd/{path}")
        base = getcwd() if dir_fd in (None, -1) else readlink(f"/proc/self/fd/{dir_fd}")
        return realpath(join(base, fsdecode(path)))

    def outside(path: str) -> bool:
        return path != "/dev/null" and path != workdir and not path.startswith(workdir + "/")

    def refusal(event: str, args: tuple) -> str | None:
        if event in refused_events:
            return event
        # `import ctypes` (numpy imports it) opens the process's own symbols; looking any of them up is refused
        if event.startswith("ctypes.") and not (event == "ctypes.dlopen" and args[0] is None):
            return event
        if event.startswith("socket.") and event != "socket.__new__":  # creating one is harmless (asyncio)
            return event
        if event == "import" and args[0] == "_posixsubprocess":  # a fresh copy would have fork_exec back
            return "import _posixsubprocess"
        if event == "os.kill" and args[0] not in (0, getpid(), -getpgid(0)):
            return f"os.kill {args[0]}"
        if event == "os.killpg" and args[0] not in (0, getpgid(0)):
            return f"os.killpg {args[0]}"
        if event == "open" and not isinstance(args[0], int):  # wrapping an open descriptor grants nothing
            target = resolve(args[0])
            # a directory opened outside could serve as the dir_fd of an open, which the event does not show
            if outside(target) and (args[2] & write_flags or isdir(target)):
                return f"open {target}"
        for path_index, dir_fd_index in path_arguments.get(event, []):
            target = resolve(args[path_index], None if dir_fd_index is None else args[dir_fd_index])
            if outside(target):
                return f"{event} {target}"
        return None

    def stop(reason: str) -> None:
        try:
            write(2, f"\n{blocked_marker}{reason}\n".encode())
        finally:
            exit_now(blocked_exit)

    def hook(event: str, args: tuple) -> None:
        try:
            reason = refusal(event, args)
        except Exception as exc:  # a path that cannot be resolved is not allowed either
            reason = f"{event} ({type(exc).__name__})"
        if reason is not None:
            stop(reason)

    return hook


def _child_main(program_file: str, blocked_exit: int, blocked_marker: str) -> None:
    """The child's prelude (sent with `python -c`): install the audit hook, then run the program."""
    import _posixsubprocess
    import os
    import sys
    import types

    def refuse_fork_exec(*args: object, **kwargs: object) -> None:
        sys.audit("_posixsubprocess.fork_exec")

    with open(program_file, encoding="utf-8") as file:
        source = file.read()
    # subprocess audits Popen, but fork_exec could be called directly
    _posixsubprocess.fork_exec = refuse_fork_exec
    sys.addaudithook(_audit_hook(os.path.realpath(os.getcwd()), blocked_exit, blocked_marker))
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    sys.argv = [program_file]
    exec(compile(source, program_file, "exec"), main.__dict__)


_CHILD_COMMAND = "\n".join(
    [
        "from __future__ import annotations",  # the child has no Callable to evaluate annotations with
        inspect.getsource(_audit_hook),
        inspect.getsource(_child_main),
        f"_child_main({PROGRAM_FILE!r}, {BLOCKED_EXIT}, {BLOCKED_MARKER!r})",
    ]
)
