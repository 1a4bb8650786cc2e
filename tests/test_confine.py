"""The sandbox's operating-system confinement (grader/sandbox/confine.py).

Every scenario runs in a fresh Python process, so that no namespace or Landlock
domain ever reaches the pytest process, and checks from outside (exit statuses,
pipes, files) where a check from inside could lie. Most scenarios also record the
same action before the defence is applied, so that each test fails when its
defence is off. Tests skip, naming the reason, where the kernel does not offer a
mechanism.
"""
from __future__ import annotations

import functools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from grader.sandbox import confine

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="confinement is Linux-only")

# Each scenario prints one JSON line; `attempt` records an action's outcome as "ok" or the exception's name.
PRELUDE = f"""
import json, os, signal, socket, sys, time
from pathlib import Path
sys.path.insert(0, {str(REPO)!r})
from grader.sandbox import confine

def attempt(action):
    try:
        action()
        return "ok"
    except Exception as error:
        return type(error).__name__

def read(path):
    with open(path, "rb") as file:
        file.read(1)

def write(path):
    with open(path, "wb") as file:
        file.write(b"x")
"""


def scenario(code: str, *args: str, timeout: float = 60, **popen: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "-B", "-c", PRELUDE + textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **popen)


def outcomes(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


NOBODY = 65534


@functools.lru_cache(maxsize=None)
def _python_for_nobody() -> str | None:
    """A Python the user nobody may run and import this checkout with."""
    check = f"import sys; sys.path.insert(0, {str(REPO)!r}); import grader.sandbox.confine"
    for python in dict.fromkeys(filter(None, [sys.executable, shutil.which("python3"), "/usr/bin/python3"])):
        try:
            if subprocess.run([python, "-I", "-c", check], user=NOBODY, group=NOBODY, extra_groups=[], cwd="/",
                              capture_output=True, timeout=30).returncode == 0:
                return python
        except OSError:
            pass
    return None


def run_unprivileged(code: str) -> subprocess.CompletedProcess[str]:
    """`scenario` as the user nobody when the tests run as root; skips where that is not possible."""
    if os.geteuid() != 0:
        return scenario(code, cwd="/")
    python = _python_for_nobody()
    if python is None:
        pytest.skip("running as root, and the user nobody can run no Python that imports this checkout")
    return subprocess.run([python, "-I", "-B", "-c", PRELUDE + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, user=NOBODY, group=NOBODY,
                          extra_groups=[], cwd="/")


@functools.lru_cache(maxsize=None)
def offered_namespaces() -> tuple[str, ...]:
    """The namespaces the kernel lets this user create, probed in a throwaway process without
    the module under test: a namespace it fails to enter makes its tests fail, not skip."""
    done = subprocess.run([sys.executable, "-I", "-c", textwrap.dedent("""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        flags = {"user": 0x10000000, "pid": 0x20000000, "net": 0x40000000, "mount": 0x00020000}
        print(" ".join(name for name, flag in flags.items() if libc.unshare(flag) == 0))
    """)], capture_output=True, text=True, timeout=30)
    return tuple(done.stdout.split())


def needs_namespaces(*names: str) -> None:
    missing = [name for name in names if name not in offered_namespaces()]
    if missing:
        pytest.skip(f"the kernel refuses new {', '.join(missing)} namespace(s) here")


def needs_landlock(abi: int) -> None:
    found = confine.landlock_abi()
    if found < abi:
        pytest.skip(f"needs Landlock ABI {abi}, the kernel offers {found or 'none'}")


@pytest.fixture
def listener():
    """A TCP listener of the test process on loopback: what confined code must not reach."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def read_until_eof(fd: int, seconds: float) -> tuple[bytes, bool]:
    """What arrives on a pipe, and whether its end came: only once every process holding it open is gone."""
    data, deadline = b"", time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                return data, True
            data += chunk
    return data, False


# --------------------------------------------------------------------------
# Landlock alone
# --------------------------------------------------------------------------


def test_landlock_files(tmp_path: Path) -> None:
    needs_landlock(1)
    allowed, writable, elsewhere = tmp_path / "allowed", tmp_path / "writable", tmp_path / "elsewhere"
    for folder in (allowed, writable, elsewhere):
        folder.mkdir()
        (folder / "file").write_text("text")
    done = scenario("""
        allowed, writable, elsewhere = map(Path, sys.argv[1:])
        before = attempt(lambda: read(elsewhere / "file"))
        applied = confine.restrict([allowed], [writable])
        print(json.dumps({
            "abi": applied.landlock_abi, "before": before,
            "read allowed": attempt(lambda: read(allowed / "file")),
            "read elsewhere": attempt(lambda: read(elsewhere / "file")),
            "list elsewhere": attempt(lambda: os.listdir(elsewhere)),
            "read /etc/hostname": attempt(lambda: read("/etc/hostname")),
            "write writable": attempt(lambda: write(writable / "new")),
            "write allowed": attempt(lambda: write(allowed / "new")),
            "write elsewhere": attempt(lambda: write(elsewhere / "new")),
            "remove elsewhere": attempt(lambda: os.remove(elsewhere / "file")),
            "/dev/null": attempt(lambda: (write("/dev/null"), read("/dev/urandom"))),
        }))
    """, str(allowed), str(writable), str(elsewhere))
    result = outcomes(done)
    assert result.pop("abi") == confine.landlock_abi()
    assert result.pop("before") == "ok"
    assert result == {
        "read allowed": "ok", "read elsewhere": "PermissionError", "list elsewhere": "PermissionError",
        "read /etc/hostname": "PermissionError" if Path("/etc/hostname").exists() else "FileNotFoundError",
        "write writable": "ok", "write allowed": "PermissionError", "write elsewhere": "PermissionError",
        "remove elsewhere": "PermissionError", "/dev/null": "ok",
    }
    assert (writable / "new").exists() and not (elsewhere / "new").exists() and (elsewhere / "file").exists()


def test_landlock_refuses_tcp(listener: int) -> None:
    """Landlock alone: in a network namespace the connection would fail for another reason."""
    needs_landlock(4)
    done = scenario("""
        port = int(sys.argv[1])
        before = attempt(lambda: socket.create_connection(("127.0.0.1", port), timeout=5).close())
        confine.restrict([], [])
        print(json.dumps({
            "before": before,
            "connect": attempt(lambda: socket.create_connection(("127.0.0.1", port), timeout=5).close()),
            "bind": attempt(lambda: socket.create_server(("127.0.0.1", 0)).close()),
        }))
    """, str(listener))
    assert outcomes(done) == {"before": "ok", "connect": "PermissionError", "bind": "PermissionError"}


def test_landlock_hides_other_processes_memory_and_environment() -> None:
    """/proc stays readable, but not /proc/PID/environ, mem, cwd of a process outside: Landlock forbids ptrace of it.

    Run as an unprivileged user: root (CAP_SYS_PTRACE in the initial user namespace)
    could still read environ and maps on Linux 6.18; the sandbox is not root there.
    """
    needs_landlock(1)
    done = run_unprivileged("""
        hold, release = os.pipe()
        target = os.fork()
        if target == 0:  # lives until this process ends: signalling it will not be allowed
            os.close(release)
            os.read(hold, 1)
            os._exit(0)
        def peek():
            return {name: attempt(lambda: read(f"/proc/{target}/{name}")) for name in ("environ", "mem", "maps")} | \
                   {"cwd": attempt(lambda: os.listdir(f"/proc/{target}/cwd"))}
        before = peek()
        confine.restrict(["/proc"], [])
        after = peek()
        own = attempt(lambda: read("/proc/self/environ"))
        print(json.dumps({"before": before, "after": after, "own": own}))
    """)
    result = outcomes(done)
    assert result["before"] == {"environ": "ok", "mem": "OSError", "maps": "ok", "cwd": "ok"}  # mem: offset 0 unmapped
    assert result["after"] == dict.fromkeys(("environ", "mem", "maps", "cwd"), "PermissionError")
    assert result["own"] == "ok"


def test_judge_is_out_of_reach_under_full_confinement(tmp_path: Path) -> None:
    needs_namespaces("user", "pid", "mount")
    needs_landlock(1)
    done = scenario("""
        judge = os.getppid()
        before = attempt(lambda: read(f"/proc/{judge}/environ"))
        applied = confine.enter_namespaces(Path(sys.argv[1]), 1)
        confine.restrict(["/proc"], [], applied)
        print(json.dumps({"before": before, "environ": attempt(lambda: read(f"/proc/{judge}/environ")),
                          "cwd": attempt(lambda: os.listdir(f"/proc/{judge}/cwd")),
                          "signal": attempt(lambda: os.kill(judge, 0))}))
    """, str(tmp_path))
    result = outcomes(done)
    assert result.pop("before") == "ok"
    assert set(result.values()) <= {"PermissionError", "FileNotFoundError", "ProcessLookupError"}, result


def test_landlock_refuses_signals_outside() -> None:
    needs_landlock(6)
    done = scenario("""
        before = attempt(lambda: os.kill(os.getppid(), 0))
        applied = confine.restrict([], [])
        print(json.dumps({"before": before, "after": attempt(lambda: os.kill(os.getppid(), 0)),
                          "self": attempt(lambda: os.kill(os.getpid(), 0)), "landlock": applied.landlock}))
    """)
    assert outcomes(done) == {"before": "ok", "after": "PermissionError", "self": "ok",
                              "landlock": ["filesystem", "tcp", "signals", "abstract-unix-sockets"]}


def test_threads_started_before_restrict_are_reported() -> None:
    needs_landlock(1)
    done = scenario("""
        import threading
        stop = threading.Event()
        threading.Thread(target=stop.wait).start()
        applied = confine.restrict([], [])
        stop.set()
        print(json.dumps(applied.unconfined_threads))
    """)
    assert outcomes(done) == 1


# --------------------------------------------------------------------------
# Namespaces
# --------------------------------------------------------------------------


def test_sandbox_runs_in_its_own_pid_namespace(tmp_path: Path) -> None:
    """pid 2 under our own init: pid 1 would ignore the signals it sends itself."""
    needs_namespaces("user", "pid")
    done = scenario("""
        applied = confine.enter_namespaces(Path(sys.argv[1]), 1)
        print(json.dumps({"pid": os.getpid(), "parent": os.getppid(), "summary": applied.summary(),
                          "processes": sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
                          if applied.fresh_proc else None}))
    """, str(tmp_path))
    result = outcomes(done)
    assert (result["pid"], result["parent"]) == (2, 1)
    assert "namespaces(" in result["summary"] and "pid" in result["summary"]
    if result["processes"] is not None:
        assert result["processes"] == [1, 2]


def test_processes_left_behind_are_killed(tmp_path: Path) -> None:
    """A setsid, double-forked process holding the judge's pipe: its end comes once the sandbox exits."""
    needs_namespaces("user", "pid")
    read_end, write_end = os.pipe()
    try:
        done = scenario("""
            pipe = int(sys.argv[2])
            confine.enter_namespaces(Path(sys.argv[1]), 1)
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    null = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(null, 1)  # or the test would wait for it to capture the output
                    os.dup2(null, 2)
                    os.write(pipe, b"left behind\\n")
                    time.sleep(20)
                os._exit(0)
            os.wait()
            print(json.dumps("exiting"))
        """, str(tmp_path), str(write_end), pass_fds=(write_end,))
        os.close(write_end)
        write_end = -1
        assert outcomes(done) == "exiting"
        data, ended = read_until_eof(read_end, 10)
        assert data == b"left behind\n"
        assert ended, "a process the sandbox started outlived it"
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


@pytest.mark.parametrize("ending, code", [
    ("sys.exit(7)", 7),
    ("os.kill(os.getpid(), signal.SIGKILL)", -signal.SIGKILL),
    ("os.abort()", -signal.SIGABRT),
    ("import ctypes; ctypes.string_at(0)", -signal.SIGSEGV),
])
def test_exit_status_passes_through(tmp_path: Path, ending: str, code: int) -> None:
    needs_namespaces("user", "pid")
    done = scenario(f"""
        confine.enter_namespaces(Path(sys.argv[1]), 1)
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        {ending}
        time.sleep(1)
        sys.exit(99)
    """, str(tmp_path))
    assert done.returncode == code, done.stderr


def test_killing_the_shim_kills_the_sandbox(tmp_path: Path) -> None:
    """The judge holds the shim's pid only: SIGKILL to it must not leave the sandbox running."""
    needs_namespaces("user", "pid")
    read_end, write_end = os.pipe()
    code = PRELUDE + textwrap.dedent("""
        confine.enter_namespaces(Path(sys.argv[1]), 1)
        os.write(int(sys.argv[2]), b"ready\\n")
        time.sleep(60)
    """)
    shim = subprocess.Popen([sys.executable, "-I", "-B", "-c", code, str(tmp_path), str(write_end)],
                            pass_fds=(write_end,), stdin=subprocess.DEVNULL)
    os.close(write_end)
    try:
        assert os.read(read_end, 6) == b"ready\n"
        shim.kill()
        assert shim.wait(10) == -signal.SIGKILL
        assert read_until_eof(read_end, 10) == (b"", True), "the sandbox outlived the shim"
    finally:
        shim.kill()
        shim.wait()
        os.close(read_end)


def test_scratch_is_a_size_limited_private_tmpfs(tmp_path: Path) -> None:
    needs_namespaces("user", "mount")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = scenario("""
        scratch = Path(sys.argv[1])
        applied = confine.enter_namespaces(scratch, 2)
        def fill():
            with open(scratch / "big", "wb") as file:
                for _ in range(3):
                    file.write(b"x" * 2**20)
                    file.flush()
        print(json.dumps({"limit": applied.scratch_limit_mib, "small": attempt(lambda: write(scratch / "small")),
                          "fill": attempt(fill)}))
    """, str(scratch))
    assert outcomes(done) == {"limit": 2, "small": "ok", "fill": "OSError"}
    assert list(scratch.iterdir()) == [], "the scratch was written to the real folder"


def test_scratch_overflow_is_enospc(tmp_path: Path) -> None:
    needs_namespaces("user", "mount")
    done = scenario("""
        import errno
        scratch = Path(sys.argv[1])
        confine.enter_namespaces(scratch, 1)
        try:
            (scratch / "big").write_bytes(b"x" * 2 * 2**20)
            print(json.dumps("written"))
        except OSError as error:
            print(json.dumps(errno.errorcode[error.errno]))
    """, str(tmp_path))
    assert outcomes(done) == "ENOSPC"


def test_no_network_in_the_namespace(tmp_path: Path, listener: int) -> None:
    """Without Landlock: the new network namespace has nothing but a loopback that is down."""
    needs_namespaces("user", "net")
    done = scenario("""
        port = int(sys.argv[2])
        before = attempt(lambda: socket.create_connection(("127.0.0.1", port), timeout=5).close())
        confine.enter_namespaces(Path(sys.argv[1]), 1)
        print(json.dumps({"before": before,
                          "connect": attempt(lambda: socket.create_connection(("127.0.0.1", port), timeout=5).close()),
                          "interfaces": [name for _, name in socket.if_nameindex()]}))
    """, str(tmp_path), str(listener))
    result = outcomes(done)
    assert result["before"] == "ok"
    assert result["connect"] in ("OSError", "ConnectionRefusedError")  # ENETUNREACH
    assert result["interfaces"] == ["lo"]


# --------------------------------------------------------------------------
# Process limit
# --------------------------------------------------------------------------


def test_process_limit_in_a_user_namespace() -> None:
    """Root is exempt from RLIMIT_NPROC even in a user namespace, so this runs unprivileged."""
    needs_namespaces("user")
    done = run_unprivileged("""
        applied = confine.enter_namespaces(Path("/nonexistent"), 1)
        confine.limit_processes(8, applied)
        children, failure = [], None
        for _ in range(20):
            try:
                child = os.fork()
            except OSError as error:
                failure = type(error).__name__
                break
            if child == 0:
                time.sleep(30)
                os._exit(0)
            children.append(child)
        for child in children:
            os.kill(child, signal.SIGKILL)
        print(json.dumps({"limit": applied.process_limit, "forked": len(children), "failure": failure}))
    """)
    result = outcomes(done)
    assert result["limit"] == 8
    assert result["failure"] == "BlockingIOError"
    assert result["forked"] < 8


def test_process_limit_is_not_set_outside_a_user_namespace() -> None:
    """There RLIMIT_NPROC would count every process of the user on the machine."""
    done = scenario("""
        import resource
        before = resource.getrlimit(resource.RLIMIT_NPROC)
        applied = confine.limit_processes(8)
        print(json.dumps({"limit": applied.process_limit,
                          "unchanged": resource.getrlimit(resource.RLIMIT_NPROC) == before}))
    """)
    assert outcomes(done) == {"limit": None, "unchanged": True}


# --------------------------------------------------------------------------
# Everything together, environment, other platforms
# --------------------------------------------------------------------------


def test_torch_works_under_full_confinement(tmp_path: Path) -> None:
    """As the sandbox will use it: namespaces, then torch, then Landlock, then torch's work."""
    needs_namespaces("user", "pid", "net", "mount")
    needs_landlock(1)
    scratch, secret = tmp_path / "scratch", tmp_path / "secret"
    scratch.mkdir()
    secret.write_text("answer")
    done = scenario("""
        started = time.perf_counter()
        applied = confine.enter_namespaces(Path(sys.argv[1]), 16)
        entered = time.perf_counter()
        import torch
        imported = time.perf_counter()
        confine.restrict(["/proc", "/sys/devices/system/cpu", sys.prefix, sys.base_prefix, *filter(None, sys.path)],
                         [Path(sys.argv[1])], applied)
        restricted = time.perf_counter()
        x = torch.randn(64, 64, requires_grad=True)
        (x @ x).tanh().sum().backward()
        torch.save(x.grad, Path(sys.argv[1]) / "grad.pt")
        print(json.dumps({"summary": applied.summary(), "finite": bool(torch.isfinite(x.grad).all()),
                          "namespaces_ms": (entered - started) * 1e3, "restrict_ms": (restricted - imported) * 1e3,
                          "read secret": attempt(lambda: read(sys.argv[2]))}))
    """, str(scratch), str(secret), timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    result = outcomes(done)
    assert result["finite"]
    assert result["summary"].startswith(f"landlock-v{confine.landlock_abi()}+namespaces(user,pid,net,mount)")
    assert result["read secret"] == "PermissionError"
    assert list(scratch.iterdir()) == []


def test_safe_environment_is_an_allowlist(tmp_path: Path) -> None:
    environ = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "OMP_NUM_THREADS": "1", "HOME": "/home/me",
               "GITHUB_TOKEN": "ghp_x", "GRADER_SUITES_TOKEN": "s", "AWS_SECRET_ACCESS_KEY": "k",
               "GITHUB_ACTIONS": "true", "SSH_AUTH_SOCK": "/run/agent", "PYTHONPATH": "/evil", "LD_PRELOAD": "x.so"}
    assert confine.safe_environment(environ, tmp_path) == {
        "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "OMP_NUM_THREADS": "1",
        "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "TMP": str(tmp_path), "TEMP": str(tmp_path)}


def test_other_platforms_get_no_confinement(tmp_path: Path) -> None:
    done = scenario("""
        sys.platform = "darwin"
        pid = os.getpid()
        applied = confine.enter_namespaces(Path(sys.argv[1]), 1)
        confine.restrict([], [], applied)
        confine.limit_processes(4, applied)
        print(json.dumps({"summary": applied.summary(), "same process": os.getpid() == pid,
                          "abi": confine.landlock_abi(), "read": attempt(lambda: read(__import__("os").__file__))}))
    """, str(tmp_path))
    assert outcomes(done) == {"summary": "none", "same process": True, "abi": 0, "read": "ok"}


def test_summary() -> None:
    assert confine.Confinement().summary() == "none"
    assert confine.Confinement(["user", "pid", "net", "mount"], 7, ["filesystem"], 64, 32).summary() == \
        "landlock-v7+namespaces(user,pid,net,mount)+scratch(64MiB)+nproc(32)"
