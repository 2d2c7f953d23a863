"""The sandbox against real subprocesses: ordinary results, and adversarial programs contained as failures."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest

from taskseed.filter.sandbox import Limits, run_many, run_python, run_tests

QUICK = Limits(wall_s=2.0, cpu_s=5.0, memory_mb=256)
SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
WRONG_SOLUTION = "def add(a, b):\n    return a - b\n"


def printed_value(result, name: str) -> str:
    """A `name=value` line the sandboxed program wrote to stderr."""
    match = re.search(rf"^{name}=(.*)$", result.stderr_tail, re.MULTILINE)
    assert match, result.stderr_tail
    return match.group(1)


def test_passing_solution_passes():
    result = run_tests(SOLUTION, TESTS, QUICK)
    assert (result.passed, result.status, result.returncode) == (True, "passed", 0)


def test_wrong_solution_fails_with_assertion_reason():
    result = run_tests(WRONG_SOLUTION, TESTS, QUICK)
    assert (result.passed, result.status) == (False, "failed")
    assert result.reason == "AssertionError at line 4"


def test_syntax_error_fails():
    result = run_tests("def add(a, b:\n    return a + b\n", TESTS, QUICK)
    assert result.status == "failed"
    assert result.reason.startswith("SyntaxError at line 1")


def test_printing_success_is_not_a_pass():
    result = run_python("import sys\nprint('passed')\nsys.stderr.write('OK\\n')\nsys.exit(1)\n", QUICK)
    assert (result.passed, result.status, result.reason) == (False, "failed", "exit code 1")


def test_infinite_loop_times_out_within_wall_limit():
    result = run_python("while True:\n    pass\n", Limits(wall_s=1.0, cpu_s=5.0))
    assert (result.passed, result.status) == (False, "timeout")
    assert 1.0 <= result.wall_s < 2.0


def test_cpu_limit_stops_a_busy_loop():
    result = run_python("while True:\n    pass\n", Limits(wall_s=5.0, cpu_s=1.0))
    assert result.status == "timeout"
    assert result.reason.startswith("CPU time limit")


@pytest.mark.parametrize(
    "bomb",
    [
        "import os\nwhile True:\n    try:\n        os.fork()\n    except BaseException:\n        pass\n",
        "import subprocess\nwhile True:\n    try:\n        subprocess.Popen(['sleep', '60'])\n"
        "    except BaseException:\n        pass\n",
        "import os\nos.system('sleep 60 &')\n",
    ],
    ids=["os.fork", "subprocess", "os.system"],
)
def test_fork_bomb_is_blocked_and_leaves_no_processes(bomb):
    result = run_python(f"import os, sys\nsys.stderr.write(f'pgid={{os.getpgid(0)}}\\n')\n{bomb}", QUICK)
    assert (result.passed, result.status) == (False, "blocked")
    with pytest.raises(ProcessLookupError):
        os.killpg(int(printed_value(result, "pgid")), 0)


def test_socket_connect_to_local_server_is_blocked():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = (
            "import socket\ntry:\n"
            f"    socket.socket().connect(('127.0.0.1', {port}))\n"
            "except BaseException:\n    pass\n"
        )
        result = run_python(code, QUICK)
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()
    assert (result.passed, result.status, result.reason) == (False, "blocked", "blocked: socket.connect")


@pytest.mark.parametrize(
    "code",
    [
        "import socket\nsocket.socket().connect(('192.0.2.1', 80))\n",
        "import socket\nsocket.getaddrinfo('example.com', 443)\n",
        "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=1)\n",
    ],
    ids=["external-address", "dns", "urllib"],
)
def test_network_is_blocked(code):
    assert run_python(code, QUICK).status == "blocked"


@pytest.mark.parametrize(
    "code",
    [
        "import ctypes\nctypes.CDLL(None).fork()\n",
        "import ctypes\nctypes.CDLL('libc.so.6')\n",
        "import _posixsubprocess\n_posixsubprocess.fork_exec(*[None] * 22)\n",
        "import os\nos.kill(-1, 0)\n",
    ],
    ids=["ctypes-symbol", "ctypes-library", "fork_exec", "kill-everything"],
)
def test_process_creation_and_signals_by_other_routes_are_blocked(code):
    assert run_python(code, QUICK).status == "blocked"


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace needs root")
def test_root_child_has_only_loopback():
    result = run_python("import sys\nsys.stderr.write(open('/proc/net/dev').read())\n", QUICK)
    interfaces = re.findall(r"^\s*(\w+):", result.stderr_tail, re.MULTILINE)
    assert (result.status, interfaces) == ("passed", ["lo"])


def test_unbounded_allocation_is_contained():
    result = run_python("chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))\n", QUICK)
    assert result.status == "memory"
    assert result.reason.startswith("MemoryError")
    assert bytearray(10**7)  # the calling process still allocates


def test_killing_the_caller_is_blocked():
    result = run_python("import os\nos.kill(os.getppid(), 0)\n", QUICK)
    assert (result.status, result.reason) == ("blocked", f"blocked: os.kill {os.getpid()}")


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside.txt"
    path.write_text("original")
    return path


@pytest.mark.parametrize(
    "template",
    [
        "open({path!r}, 'w').write('changed')",
        "open({path!r}, 'a').write('changed')",
        "import os\nos.remove({path!r})",
        "import os\nos.rename({path!r}, {path!r} + '.moved')",
        "import os\nos.rename('program.py', {path!r})",
        "import os\nos.chmod({path!r}, 0o777)",
        "import shutil\nshutil.rmtree(os.path.dirname({path!r}))",
        "import os\ndirectory = os.open(os.path.dirname({path!r}), os.O_RDONLY)\n"
        "os.open('outside.txt', os.O_WRONLY | os.O_TRUNC, dir_fd=directory)",
        "import os\nos.symlink({path!r}, 'link')\nopen('link', 'w').write('changed')",
    ],
    ids=["write", "append", "remove", "rename-away", "rename-onto", "chmod", "rmtree", "dir_fd", "symlink"],
)
def test_changing_a_file_outside_the_working_directory_is_blocked(outside_file, template):
    code = "import os\ntry:\n" + "".join(
        f"    {line}\n" for line in template.format(path=str(outside_file)).split("\n")
    )
    result = run_python(code + "except BaseException:\n    pass\n", QUICK)
    assert (result.passed, result.status) == (False, "blocked")
    assert outside_file.read_text() == "original"
    assert oct(outside_file.stat().st_mode & 0o777) == "0o644"


def test_writing_inside_the_working_directory_is_allowed():
    code = (
        "import os, shutil, tempfile\n"
        "open('out.txt', 'w').write('x')\n"
        "os.makedirs('sub/dir')\n"
        "os.rename('out.txt', 'sub/dir/moved.txt')\n"
        "assert open('sub/dir/moved.txt').read() == 'x'\n"
        "shutil.rmtree('sub')\n"
        "with tempfile.NamedTemporaryFile() as scratch:\n"
        "    scratch.write(b'1')\n"
        "open(os.path.expanduser('~/notes'), 'w').write('home is the working directory')\n"
        "import ctypes, numpy\n"
    )
    result = run_python(code, QUICK)
    assert result.status == "passed", result.stderr_tail


def test_working_directory_is_removed():
    result = run_python(
        "import os, sys\nopen('left.txt', 'w').write('x')\nsys.stderr.write(f'cwd={os.getcwd()}\\n')\n"
    )
    assert result.passed
    assert not Path(printed_value(result, "cwd")).exists()


def test_output_is_capped():
    result = run_python(
        "import sys\nfor _ in range(1000):\n    sys.stderr.write('x' * 1000)\n", Limits(output_bytes=500)
    )
    assert result.passed
    assert len(result.stderr_tail) == 500


def test_run_many_preserves_order_and_survives_a_mix():
    programs = [
        (SOLUTION, TESTS),
        (WRONG_SOLUTION, TESTS),
        ("", "while True:\n    pass\n"),
        ("import os", "os.fork()"),
        ("import socket", "socket.create_connection(('127.0.0.1', 9))"),
        ("chunks = []", "while True:\n    chunks.append(bytearray(10**7))"),
        ("def add(a, b:", TESTS),
        (SOLUTION, TESTS),
    ]
    start = time.monotonic()
    results = run_many(programs, Limits(wall_s=1.0, memory_mb=256), workers=2)
    statuses = [result.status for result in results]
    assert statuses == ["passed", "failed", "timeout", "blocked", "blocked", "memory", "failed", "passed"]
    assert time.monotonic() - start < 5.0
