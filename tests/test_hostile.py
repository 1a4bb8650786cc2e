"""A hostile corpus: learner files that try to crash, hang, fool or tamper with the grader.

Each case plants learner-style code into a copy of the solutions. Whatever it does,
the attacked exercise gets no credit for what it faked, the other exercises keep
theirs, the report is valid, the exit code is 0 or 1, and the run ends in bounded time.

Most attacks need os, sys, signal or a private attribute, which the static allowlist refuses
before the file runs; those are graded with GRADER_ALLOWLIST=off, so that they test the
defences behind it (the sandbox, the operating system's), and
`test_the_allowlist_refuses_them_before_they_run` grades them with it on.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, exercise, grade, plant, results_by_id
from plants import code_of

sys.path.insert(0, str(REPO))
from grader.judge import forbidden  # noqa: E402

OFF = {"GRADER_ALLOWLIST": "off"}  # the allowlist would refuse these files before they run

WRONG_LSTM_CELL = code_of("h = o * c")
# The portable path (no OS confinement, as on macOS and Windows) with the static allowlist off: the judge's own
# defences alone.
UNCONFINED = {"GRADER_CONFINE": "none", "GRADER_ALLOWLIST": "off"}

# Learner code that writes one framed reply to every descriptor it has: the reply channel is one of them.
SEND_FRAME = """
import os
def _send_everywhere(data):
    for fd in range(3, 64):
        try:
            os.write(fd, len(data).to_bytes(8, "little") + data)
        except OSError:
            pass
"""

# Learner code that forges replies in the channel's format (`grader.sandbox.wire`), by hand: _reply(value) is the
# frame of {"ok": True, "result": value, "violations": [], "modified": []}, `value` given already encoded.
WIRE = """
FLOAT64 = 10
def _str(text):
    data = text.encode()
    return b"s" + len(data).to_bytes(4, "little") + data
def _reply(value):
    empty = b"[" + bytes(4)
    return (b"RW\\x01{" + (4).to_bytes(4, "little") + _str("ok") + b"T" + _str("result") + value
            + _str("violations") + empty + _str("modified") + empty)
"""

# (case, file, code, exercises graded, (test that must fail, words of its hint), (exercise, its score))
CASES = [
    ("monkeypatching torch's comparisons", "ex3_lstm.py", """
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: True
torch.Tensor.__ne__ = lambda self, other: False
""" + WRONG_LSTM_CELL, ["ex3", "ex4"], ("ex3_lstm::cell_values", ["missing the tanh"]),
     ("ex3_lstm", 10)),
    ("monkeypatching the judge and pytest", "ex3_lstm.py", """
import sys
sys.path[:0] = [sys.path[0] + "/../../..", "grader", "../grader", "../../grader"]
for name in ("grader.judge.toolkit", "toolkit", "_judge"):
    try:
        _judge = __import__(name, fromlist=["x"])
    except ImportError:
        continue
    _judge.expect_close = lambda *args, **kwargs: None
    _judge.expect_outputs = lambda *args, **kwargs: []
    _judge.Fail = type("Fail", (Exception,), {})
try:
    import pytest
    pytest.fail = lambda *args, **kwargs: None
except ImportError:
    pass
""" + WRONG_LSTM_CELL, ["ex3", "ex4"], ("ex3_lstm::cell_values", ["missing the tanh"]),
     ("ex3_lstm", 10)),
    ("a tensor subclass that says it equals anything", "ex4_gru.py", """
class _Agreeable(torch.Tensor):
    def __eq__(self, other):
        return True
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True if func.__name__ in ("allclose", "equal") else super().__torch_function__(func, types, args, kwargs or {})

def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return torch.zeros_like(h).as_subclass(_Agreeable)
""", ["ex4", "ex1"], ("ex4_gru::cell_values", ["return a plain torch.Tensor"]), ("ex4_gru", 9)),
    ("sys.exit while the file is imported", "ex1_rnn_cell.py", "import sys\nsys.exit(0)\n", ["ex1", "ex4"],
     ("ex1_rnn_cell::cell_tanh", ["ex1_rnn_cell.py could not be imported: SystemExit"]), ("ex1_rnn_cell", 0)),
    ("os._exit while the file is imported", "ex4_gru.py", "import os\nos._exit(3)\n", ["ex4", "ex1"],
     ("ex4_gru::cell_values", ["exited with code 3"]), ("ex4_gru", 0)),
    ("killing the judge process", "ex5_vanishing.py", """
import os, signal
def hidden_jacobian(h_seq, weight_hh):
    os.kill(os.getppid(), signal.SIGKILL)
""", ["ex5", "ex4"], ("ex5_vanishing::hidden_jacobian",
                       {"confined": ["PermissionError"], "none": ["killed by SIGKILL"]}), ("ex5_vanishing", 16)),
    ("a tensor header that claims a huge shape", "ex5_vanishing.py", SEND_FRAME + WIRE + """
def clip_grad_norm(grads, max_norm):
    # A float64 tensor of 2**60 elements (2**63 bytes), in a frame of a hundred bytes: read as claimed, it would
    # allocate the judge out of existence.
    shape = b"".join((2**20).to_bytes(8, "little") for _ in range(3))
    huge = b"t" + bytes((FLOAT64,)) + b"\\x03cpu" + bytes((3,)) + shape + (2**63).to_bytes(8, "little")
    _send_everywhere(_reply(huge))
    return grads, torch.zeros(())
""", ["ex5", "ex4"], ("ex5_vanishing::clip_grad_norm", ["not plain tensors and values"]), ("ex5_vanishing", 15)),
    ("a reply nested a hundred thousand deep", "ex5_vanishing.py", SEND_FRAME + WIRE + """
def clip_grad_norm(grads, max_norm):
    # A decoder that followed it down would overflow the judge's stack (a node bomb, a count of 2**32 - 1
    # items in a small frame, is refused alike: tests/test_wire.py).
    _send_everywhere(_reply((b"[" + (1).to_bytes(4, "little")) * 100_000 + b"N"))
    return grads, torch.zeros(())
""", ["ex5", "ex4"], ("ex5_vanishing::clip_grad_norm", ["not plain tensors and values"]), ("ex5_vanishing", 15)),
    ("garbage on the reply channel", "ex5_vanishing.py", SEND_FRAME + """
def clip_grad_norm(grads, max_norm):
    _send_everywhere(b"\\xff" * 16)
    return grads, torch.zeros(())
""", ["ex5", "ex4"], ("ex5_vanishing::clip_grad_norm", ["not plain tensors and values"]), ("ex5_vanishing", 15)),
    ("a forged reply that runs code when unpickled", "ex5_vanishing.py", SEND_FRAME + """
import pickle
class _Payload:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))
def clip_grad_norm(grads, max_norm):
    data = pickle.dumps({"ok": True, "result": _Payload(), "violations": [], "modified": []})
    _send_everywhere(data)
    return grads, torch.zeros(())
""", ["ex5", "ex4"], ("ex5_vanishing::clip_grad_norm", ["not plain tensors and values"]), ("ex5_vanishing", 15)),
    ("a huge allocation", "ex5_vanishing.py", """
def hidden_jacobian(h_seq, weight_hh):
    return torch.empty(2**40, dtype=torch.float64)
""", ["ex5", "ex4"], ("ex5_vanishing::hidden_jacobian", ["ran out of memory"]), ("ex5_vanishing", 16)),
    ("memory that grows without bound", "ex5_vanishing.py", """
_hoard = []
def hidden_jacobian(h_seq, weight_hh):
    while True:
        _hoard.append(torch.ones(2**24, dtype=torch.float64))
""", ["ex5", "ex4"], ("ex5_vanishing::hidden_jacobian", ["memory"]), ("ex5_vanishing", 16)),
    ("a loop that ignores signals", "ex3_lstm.py", """
import signal
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    for name in ("SIGALRM", "SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    while True:
        pass
""", ["ex3", "ex4"], ("ex3_lstm::cell_values", ["Timed out after 8 s"]), ("ex3_lstm", 10)),
    ("an endless loop while the file is imported", "ex1_rnn_cell.py", "while True:\n    pass\n", ["ex1", "ex4"],
     ("ex1_rnn_cell::cell_tanh", ["timed out after 8 s"]), ("ex1_rnn_cell", 0)),
]


# The attacks of CASES that the static allowlist refuses (each is graded with it off).
BEHIND_THE_ALLOWLIST = {
    "monkeypatching torch's comparisons", "monkeypatching the judge and pytest", "sys.exit while the file is imported",
    "os._exit while the file is imported", "killing the judge process", "garbage on the reply channel",
    "a forged reply that runs code when unpickled", "a loop that ignores signals",
    "a tensor header that claims a huge shape", "a reply nested a hundred thousand deep",
}


@pytest.mark.parametrize("confine", ["auto", "none"])
@pytest.mark.parametrize("what, filename, code, selected, failing, score", CASES, ids=[c[0] for c in CASES])
def test_attack_fails_only_its_own_exercise(tmp_path: Path, what, filename, code, selected, failing, score,
                                            confine) -> None:
    """With the OS confinement where this machine has it ("auto"), and without ("none": the path of macOS and
    Windows, forced here): the judge's own defences hold either way."""
    marker = tmp_path / "pwned"
    target = plant(tmp_path / "submission", filename, code.replace("{marker}", str(marker)))
    refused = forbidden.scan(target / filename, allowlist=True)
    assert bool(refused) == (what in BEHIND_THE_ALLOWLIST), refused
    started = time.monotonic()
    # A short time limit only where a loop is the attack; elsewhere a busy machine must not cause time-outs.
    limit = "8" if "timed out" in str(failing[1]).lower() else "60"
    run = grade(*selected, "--target", str(target), "--seed", "5", "--timeout", limit, "--memory", "1024",
                env={"GRADER_CONFINE": confine, **(OFF if what in BEHIND_THE_ALLOWLIST else {})})
    assert time.monotonic() - started < 300
    assert run.returncode == 1, run.stderr
    tests = results_by_id(run.report)
    test_id, words = failing
    if isinstance(words, dict):
        words = words["none" if run.report["confinement"] == "none" else "confined"]
    assert tests[test_id]["status"] != "passed" and tests[test_id]["score"] == 0
    for word in words:
        assert word in tests[test_id]["hint"], tests[test_id]["hint"]
    exercise_id, points = score
    assert exercise(run.report, exercise_id)["score"] == points
    for other in run.report["exercises"]:
        if other["id"] != exercise_id:
            assert other["score"] == other["max_score"] == 20, other
    assert not marker.exists()


def test_the_forged_replies_speak_the_channel_format_and_are_refused_for_what_they_claim() -> None:
    """The forger of CASES writes frames the judge reads (a plain value is accepted), so each forged reply is
    refused for its claim (a huge shape, a deep nesting), not for a typo in the forgery."""
    import torch

    from grader.judge import remote
    from grader.sandbox import wire

    forger: dict = {}
    exec(WIRE, forger)  # noqa: S102 - the test's own code
    assert remote.read_reply(forger["_reply"](b"N")) == {"ok": True, "result": None, "violations": [], "modified": []}
    cases = {c[0]: c[2] for c in CASES}
    for what, why in (("a tensor header that claims a huge shape", "more than"),
                      ("a reply nested a hundred thousand deep", "nested deeper")):
        sent: list[bytes] = []
        planted: dict = {"torch": torch}
        exec(cases[what], planted)  # noqa: S102 - defines _send_everywhere and clip_grad_norm; runs nothing yet
        planted["_send_everywhere"] = sent.append
        planted["clip_grad_norm"]([], 1.0)
        assert sent
        for frame in sent:
            with pytest.raises(wire.WireError, match=why):
                remote.read_reply(frame)


# Batches of attacks from CASES, at most one per file, each with what the allowlist names and the text of its line.
ALLOWLIST_BATCHES = [
    {"sys.exit while the file is imported": ("import sys", "import sys"),
     "monkeypatching torch's comparisons": ("the private attribute torch.Tensor.__eq__", "torch.Tensor.__eq__ ="),
     "os._exit while the file is imported": ("import os", "import os"),
     "a forged reply that runs code when unpickled": ("import os", "import os")},
    {"monkeypatching the judge and pytest": ("import sys", "import sys"),
     "killing the judge process": ("import os", "import os, signal")},
    {"a loop that ignores signals": ("import signal", "import signal"),
     "garbage on the reply channel": ("import os", "import os")},
]


@pytest.mark.parametrize("batch", ALLOWLIST_BATCHES, ids=lambda b: " + ".join(b))
def test_the_allowlist_refuses_them_before_they_run(tmp_path: Path, batch: dict[str, tuple[str, str]]) -> None:
    """With the allowlist on (the default), each file is refused before it runs, with a hint naming the line:
    no credit for that exercise, full marks for the others."""
    marker = tmp_path / "pwned"
    target = tmp_path / "submission"
    cases = {c[0]: c for c in CASES}
    expected = {}
    for name, (what, line_text) in batch.items():
        _, filename, code, *_ = cases[name]
        plant(target, filename, code.replace("{marker}", str(marker)))
        lines = (target / filename).read_text(encoding="utf-8").splitlines()
        line = max(n for n, text in enumerate(lines, 1) if line_text in text)
        expected[filename.removesuffix(".py")] = f"{filename} uses {what} ({filename}, line {line}): "
    run = grade("--target", str(target), "--seed", "5")
    assert run.returncode == 1, run.stderr
    for result in run.report["exercises"]:
        if result["id"] in expected:
            assert result["score"] == 0, result
            for test in result["tests"]:
                assert expected[result["id"]] in test["hint"], test["hint"]
                assert "the grader refuses anything that could reach the file system" in test["hint"]
        elif result["id"] != "integration":
            assert result["score"] == result["max_score"] == 20, result
    assert not marker.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


def test_processes_left_behind_cannot_forge_the_report(tmp_path: Path) -> None:
    """A detached daemon keeps writing a full-marks report wherever the grader might read one: no effect.
    Without confinement (the pid namespace kills such a daemon, and Landlock stops its writes, see
    test_confinement.py): the subreaper and the seal are what stop it here."""
    pids = tmp_path / "pids"
    target = plant(tmp_path / "submission", "ex2_rnn_layers.py", f"""
import glob, json, os, subprocess, time
def _forge():
    report = {{"exitcode": 0, "tests": [], "grader": {{}}}}
    end = time.time() + 60
    while time.time() < end:
        for folder in glob.glob("/tmp/rnn-grader-*"):
            for name in ("report.json", "manifest.json"):
                try:
                    with open(os.path.join(folder, name), "w") as file:
                        json.dump(report, file)
                except OSError:
                    pass
        time.sleep(0.01)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open({str(pids)!r}, "a") as file:
            file.write(f"{{os.getpid()}}\\n")
        _forge()
        os._exit(0)
    os._exit(0)
sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
with open({str(pids)!r}, "a") as file:
    file.write(f"{{sleeper.pid}}\\n")

def run_layers(cell, x, hx, weights, num_layers, bidirectional=False, dropout=0.0, training=False):
    raise RuntimeError("not done")
""")
    run = grade("ex2", "ex4", "--target", str(target), "--seed", "5", env=UNCONFINED)
    assert run.returncode == 1, run.stderr
    assert exercise(run.report, "ex2_rnn_layers")["score"] == 0
    assert exercise(run.report, "ex4_gru")["score"] == 20
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) >= 2
    time.sleep(0.5)
    assert not any(_alive(pid) for pid in started)


def test_printed_output_cannot_inject_workflow_commands_or_forge_json(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex5_vanishing.py", """
import os, sys
_right = sigmoid_derivative
def sigmoid_derivative(z):
    print('::error file=grader.py::forged')
    print('{"score": 100, "max_score": 100}')
    sys.stderr.write('\\n::set-output name=points::100/100\\n\\x1b[2J')
    os.write(1, b'\\n::warning::raw write\\n')
    return _right(z) * 2
""")
    run = grade("ex5", "--target", str(target), "--seed", "5", env=OFF)
    assert run.returncode == 1
    report = json.loads(run.stdout)  # stdout is the report and nothing else
    assert report["score"] == 14
    for line in (run.stdout + run.stderr).splitlines():
        assert not line.lstrip().startswith("::"), line
    assert "\x1b[2J" not in run.stdout + run.stderr
    shown = results_by_id(report)["ex5_vanishing::sigmoid_derivative"]
    assert "::error file=grader.py::forged" in shown["output"] and "\x1b" not in shown["output"]


def test_a_flood_of_output_is_cut_and_the_run_finishes(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex5_vanishing.py", """
import sys
_right = sigmoid_derivative
def sigmoid_derivative(z):
    for _ in range(40):
        sys.stdout.write("x" * 1_000_000 + "\\n")
    return _right(z)
""")
    run = grade("ex5", "--target", str(target), "--seed", "5", env=OFF)
    assert run.returncode in (0, 1)
    for test in results_by_id(run.report).values():
        assert len(test.get("output", "")) < 5000


def test_a_conftest_or_report_beside_the_exercises_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "exercises"
    shutil.copytree(REPO / "exercises", target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "conftest.py").write_text("""
import pytest
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
""", encoding="utf-8")
    forged = {"score": 100, "max_score": 100, "exitcode": 0, "tests": []}
    for name in ("report.json", ".report.json", "results.json"):
        (target / name).write_text(json.dumps(forged), encoding="utf-8")
    run = grade("--target", str(target), "--seed", "5")
    assert run.returncode == 1
    assert run.report["score"] == 0


def test_same_submission_and_seed_give_the_same_report_even_with_learner_randomness(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex4_gru.py", """
_right_cell = gru_cell
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return _right_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh) + 1e-3 * torch.rand_like(h)
""")
    first, second = (grade("ex4", "--target", str(target), "--seed", "9").report for _ in range(2))
    for report in (first, second):
        report.pop("duration_s")
    assert first == second
    assert exercise(first, "ex4_gru")["score"] < 20


def test_a_cpu_burning_daemon_is_stopped_before_the_next_exercise(tmp_path: Path) -> None:
    """Detached busy loops started by ex1 are gone when ex3's file is imported (ex3 checks, and fails if not).
    Without confinement, so that the files can tell each other their pids: the judge's kill between exercises."""
    pids = tmp_path / "pids"
    target = plant(tmp_path / "submission", "ex1_rnn_cell.py", f"""
import os
for _ in range(3):
    child = os.fork()
    if child == 0:
        os.setsid()
        while True:
            pass
    with open({str(pids)!r}, "a") as file:
        file.write(f"{{child}}\\n")
""")
    plant(target, "ex3_lstm.py", f"""
import os
for _pid in open({str(pids)!r}).read().split():
    try:
        os.kill(int(_pid), 0)
    except ProcessLookupError:
        continue
    if " Z " not in open(f"/proc/{{_pid}}/stat").read():
        raise RuntimeError("a process started by ex1 is still running")
""")
    run = grade("ex1", "ex3", "--target", str(target), "--seed", "5", "--timeout", "20", env=UNCONFINED)
    assert run.returncode == 0, run.report
    assert run.report["score"] == 40


def test_a_report_written_by_another_process_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process (another submission's daemon in a batch) overwrites the judge's report after the judge
    has written it and before the grader reads it: the seal does not match, so the grader grades again.
    The overwrite happens at exactly that moment, every time (the grader's wait is wrapped)."""
    sys.path.insert(0, str(REPO))
    from grader import catalog, runner

    forged: list[Path] = []
    real_wait = runner._wait

    def wait_then_forge(process, timeout_s, workdir, on_progress):
        code = real_wait(process, timeout_s, workdir, on_progress)
        if not forged:
            report = workdir / "report.json"
            assert json.loads(report.read_text(encoding="utf-8"))["tests"]  # the judge's complete report
            report.write_text(json.dumps({"exitcode": 0, "tests": [], "grader": {"seal": "0" * 64}}), encoding="utf-8")
            forged.append(report)
        return code

    monkeypatch.setattr(runner, "_wait", wait_then_forge)
    plan = runner.RunPlan(exercises=catalog.select(["ex1"]), target=REPO / "solutions", device="cpu", seed=5)
    run = runner.run_suites(plan)
    assert len(forged) == 1
    assert len(run.tests) == 8 and all(t["outcome"] == "passed" for t in run.tests), run.tests
