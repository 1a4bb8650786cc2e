"""Learner code cannot leave its sandbox: every way out through the operating system is tried from a real grade.

A planted `rnn_cell` tries each attack of the sandbox issue (read the grader, the solutions
and secrets; write files a later run would load; reach the network; signal other processes;
fill the disk; leave a forked process behind) and prints what happened; the grade must give it no
credit, and nothing outside the sandbox may have changed. The grader runs from a copy of the
repository, so that the same attacks can be run with confinement switched off
(GRADER_CONFINE=none), to show that these tests fail without the defence. The static
allowlist is switched off (GRADER_ALLOWLIST=off) so that the attacks reach the OS at all.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from conftest import REPO, results_by_id

SECRET = "ghp_secret_token_that_must_not_leak_0123456789"
COPIED = ("grader", "exercises", "solutions", "requirements.txt", "README.md")


def _linux_confinement_available() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    sys.path.insert(0, str(REPO))
    try:
        from grader.sandbox import confine
        return confine.landlock_abi() >= 6
    finally:
        sys.path.remove(str(REPO))


needs_landlock = pytest.mark.skipif(not _linux_confinement_available(),
                                    reason="needs Linux with Landlock ABI >= 6 (signal scoping)")


@dataclass
class Attack:
    repo: Path  # the copy of the repository that grades
    outside: Path  # a folder of the grader's user, outside the sandbox
    victim: subprocess.Popen  # a process of the grader's user
    listener: socket.socket  # a TCP server on loopback
    site_pth: Path


def _copy_repository(destination: Path) -> Path:
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    return destination


def _attack_code(attack: Attack) -> str:
    repo, outside = attack.repo, attack.outside
    probes = {
        "read the judge's source": f"open({str(repo / 'grader/judge/oracle.py')!r}).read()",
        "import the judge": "__import__('grader.judge.oracle')",
        "read the solutions": f"open({str(repo / 'solutions/ex1_rnn_cell.py')!r}).read()",
        "read a file outside": f"open({str(outside / 'private.txt')!r}).read()",
        "write the suites' conftest.py": f"open({str(repo / 'grader/suites/conftest.py')!r}, 'w').write('x')",
        "write the judge's bytecode": f"open({str(repo / 'grader/judge/__pycache__/toolkit.cpython-311.pyc')!r}, 'wb')",
        "write a .pth file": f"open({str(attack.site_pth)!r}, 'w').write('import os')",
        "append to GITHUB_OUTPUT": f"open({str(outside / 'github_output')!r}, 'a').write('score=100')",
        "connect over TCP": f"socket.create_connection(('127.0.0.1', {attack.listener.getsockname()[1]}), timeout=2)",
        "signal another process": f"os.kill({attack.victim.pid}, signal.SIGKILL)",
        "stop the judge": "os.kill(os.getppid(), signal.SIGSTOP) if os.getppid() > 1 else 1 / 0",
        "fill the disk": "_fill(tempfile.gettempdir())",
    }
    lines = "\n".join(f"    _attempt({name!r}, lambda: {action})" for name, action in probes.items())
    return f'''
import json, os, signal, socket, sys, tempfile, time

def _fill(folder):
    with open(os.path.join(folder, "filler"), "wb") as file:
        for _ in range(200):  # 200 MiB
            file.write(b"x" * 2**20)
            file.flush()

def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    outcomes = {{}}

    def _attempt(name, action):
        try:
            action()
            outcomes[name] = "done"
        except BaseException as error:
            outcomes[name] = type(error).__name__
{lines}
    environment = " ".join(f"{{k}}={{v}}" for k, v in os.environ.items())
    outcomes["secret in the environment"] = "done" if {SECRET!r} in environment else "absent"
    seen = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = []
    for entry in entries:
        try:
            with open(f"/proc/{{entry}}/environ", "rb") as file:
                if {SECRET!r}.encode() in file.read():
                    seen.append(entry)
        except OSError:
            pass
    outcomes["secret in another process"] = "done" if seen else "absent"
    if os.fork() == 0:  # a daemon, detached: it must not outlive the grade
        os.setsid()
        time.sleep(600)
        os._exit(0)
    print("OUTCOMES " + json.dumps(outcomes))
    raise NotImplementedError
'''


@pytest.fixture
def attack(tmp_path: Path):
    repo = _copy_repository(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("another student's work", encoding="utf-8")
    (outside / "github_output").write_text("", encoding="utf-8")
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    site_pth = Path(sysconfig.get_paths()["purelib"]) / "zz_rnn_grader_attack.pth"
    try:
        yield Attack(repo, outside, victim, listener, site_pth)
    finally:
        victim.kill()
        victim.wait()
        listener.close()
        site_pth.unlink(missing_ok=True)
        for process in _left_behind(repo / "submission"):
            process.kill()


def _grade(attack: Attack, confine: str) -> tuple[subprocess.CompletedProcess, dict]:
    if confine == "none":  # the write would succeed: a .pth in the real site-packages would reach every Python here
        attack.site_pth = attack.outside / attack.site_pth.name
    target = attack.repo / "submission"
    shutil.copytree(attack.repo / "solutions", target)
    with open(target / "ex1_rnn_cell.py", "a", encoding="utf-8") as file:
        file.write("\n" + _attack_code(attack))
    env = {**os.environ, "GRADER_CONFINE": confine, "GRADER_ALLOWLIST": "off", "GITHUB_TOKEN": SECRET,
           "GRADER_SUITES_TOKEN": SECRET, "LANG": "C.UTF-8"}
    done = subprocess.run([sys.executable, "-m", "grader", "ex1", "ex4", "--target", str(target), "--seed", "3",
                           "--json", "-"], cwd=attack.repo, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    outputs = [t.get("output", "") for t in results_by_id(report).values()] if report else []
    lines = [line for text in outputs for line in text.splitlines() if line.startswith("OUTCOMES ")]
    return done, json.loads(lines[0].removeprefix("OUTCOMES ")) if lines else {}


def _left_behind(target: Path) -> list[psutil.Process]:
    """Processes still working in the submission's folder (the sandbox's, and whatever learner code forked)."""
    found = []
    for process in psutil.process_iter():
        try:
            if Path(process.cwd()) == target.resolve():
                found.append(process)
        except (psutil.Error, OSError):
            pass
    return found


def _accepted(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


@needs_landlock
def test_every_way_out_is_closed_under_confinement(attack: Attack) -> None:
    done, outcomes = _grade(attack, "auto")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["confinement"].startswith("landlock-v")
    assert "pid" in report["confinement"] and "net" in report["confinement"]
    assert len(outcomes) == 14, outcomes
    escaped = {name: how for name, how in outcomes.items() if how == "done"}
    assert not escaped, f"escaped the sandbox: {escaped}"
    assert outcomes["fill the disk"] == "OSError"  # the scratch is full at its limit, nothing else is
    assert {e["id"]: e["score"] for e in report["exercises"]} == {"ex1_rnn_cell": 5, "ex4_gru": 20}
    assert attack.victim.poll() is None
    assert not _accepted(attack.listener)
    assert (attack.outside / "github_output").read_text(encoding="utf-8") == ""
    assert not (attack.repo / "grader/suites/conftest.py").exists() and not attack.site_pth.exists()
    assert not _left_behind(attack.repo / "submission")


def test_the_same_attacks_get_through_without_confinement(attack: Attack) -> None:
    """The defence switched off: the attacks that the OS alone stops now succeed, so the test above can fail.
    The grader notices that its own files changed and reports no grade (exit 3)."""
    done, _ = _grade(attack, "none")
    assert (attack.outside / "github_output").read_text(encoding="utf-8").startswith("score=100")
    assert (attack.repo / "grader/suites/conftest.py").exists() and attack.site_pth.exists()
    assert attack.victim.wait(timeout=10) == -9
    assert _accepted(attack.listener)
    assert done.returncode == 3 and "changed while it graded" in done.stderr
    assert "grader/suites/conftest.py" in done.stderr
