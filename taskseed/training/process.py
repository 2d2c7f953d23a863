"""Trainer processes: launched with their output teed to a log file, and never outliving their parent.

A SIGKILL of `taskseed train` cannot be caught, so each child asks the kernel to kill it when its parent dies
(PR_SET_PDEATHSIG): the launcher dies with the stage, the workers with the launcher, and a re-run never races
an orphan from the killed run over the same checkpoints.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
from pathlib import Path

from taskseed.core.errors import TaskseedError

log = logging.getLogger(__name__)


def launch(cmd: list[str], env: dict[str, str], log_path: Path) -> None:
    """Run a trainer process, its output to the console and `log_path`; it dies with us (PDEATHSIG)."""
    with open(log_path, "a") as log_file:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=die_with_parent)  # fmt: skip
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                log_file.write(line)
                log_file.flush()
                if line.startswith(("step ", "resuming ")):
                    log.info(line.rstrip())
            code = proc.wait()
        except BaseException:
            proc.kill()
            raise
    if code != 0:
        tail = [ln for ln in log_path.read_text().splitlines() if ln.strip()][-1:] or ["(no output)"]
        raise TaskseedError(
            f"the trainer exited with code {code} ({tail[0][:200]}); see {log_path}, and re-run to resume from the last checkpoint"
        )


def die_with_parent() -> None:
    import ctypes

    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
