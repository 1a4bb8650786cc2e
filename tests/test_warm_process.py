"""batch's warm process (grader/warm.py): each submission's grader forked from one process that imported torch
once; the grader forks its judge, the judge its first sandbox. The grades are those of cold runs with the same
seed, every level really is forked, the sandbox keeps its confinement, and nothing is left running."""
from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO, SOLUTIONS, batches, plant, run_grader
from plants import PLANTS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the warm process forks: Linux only")

SEED = random.SystemRandom().randrange(2 ** 31)
VARIANTS = REPO / "tests" / "variants"


def running_descendants() -> dict[int, str]:
    """This process's live descendants and their command lines (zombies left out: where an earlier test made this
    process a subreaper, killed orphans stay here unreaped)."""
    found = {}
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                found[process.pid] = " ".join(process.cmdline())
        except psutil.Error:
            pass
    return found


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def class_folder(root: Path) -> Path:
    """Every planted mistake (a few to a submission, as the diagnosis tests group them), the solutions, the
    correct variants, the stubs, and a file that exits while imported (its sandbox is restarted the plain way)."""
    submissions = root / "submissions"
    for number, batch in enumerate(batches(PLANTS, lambda p: p.home)):
        for item in batch:
            plant(submissions / f"planted{number:02d}", item.file, item.code)
    shutil.copytree(SOLUTIONS, submissions / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SOLUTIONS, submissions / "variants", ignore=shutil.ignore_patterns("__pycache__"))
    for path in VARIANTS.glob("*.py"):
        shutil.copy(path, submissions / "variants" / path.name)
    shutil.copytree(REPO / "exercises", submissions / "stubs", ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    plant(submissions / "exits", "ex4_gru.py", "import os\nos._exit(3)\n")
    return submissions


def reports(out: Path) -> dict[str, dict]:
    found = {}
    for path in sorted((out / "reports").glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        report.pop("duration_s")
        found[path.stem] = report
    return found


def test_warm_grades_equal_cold_grades_for_every_planted_mistake(tmp_path: Path) -> None:
    submissions = class_folder(tmp_path)
    warm = run_grader("batch", str(submissions), "--out", str(tmp_path / "warm"), "--seed", str(SEED),
                      "--similarity", "off", timeout=900)
    cold = run_grader("batch", str(submissions), "--out", str(tmp_path / "cold"), "--seed", str(SEED),
                      "--similarity", "off", "--cold", timeout=900)
    errors = {mode: [(row["student"], row["error"]) for row in read_csv(tmp_path / mode / "grades.csv") if row["error"]]
              for mode in ("warm", "cold")}
    assert warm.returncode == cold.returncode == 0, errors
    assert json.loads((tmp_path / "warm" / "summary.json").read_text(encoding="utf-8"))["warm"] is True
    assert json.loads((tmp_path / "cold" / "summary.json").read_text(encoding="utf-8"))["warm"] is False
    warm_reports, cold_reports = reports(tmp_path / "warm"), reports(tmp_path / "cold")
    assert sorted(warm_reports) == sorted(p.name for p in submissions.iterdir())
    for student, report in warm_reports.items():
        assert report == cold_reports[student], student
    assert (tmp_path / "warm" / "grades.csv").read_bytes() == (tmp_path / "cold" / "grades.csv").read_bytes()
    scores = {row["student"]: row["total"] for row in read_csv(tmp_path / "warm" / "grades.csv")}
    assert scores["solutions"] == scores["variants"] == "120" and scores["stubs"] == "0", scores
    assert all(scores[name] not in ("", "120") for name in scores if name.startswith("planted")), scores
    assert "landlock" in warm_reports["solutions"]["confinement"]  # this machine confines; the forks did too


FORKED_ONLY = textwrap.dedent("""
    import json, os, subprocess, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from grader import warm
    warm._preload()
    from grader import catalog, reaper, runner

    def refused(*args, **kwargs):
        raise AssertionError("a process was started, not forked: " + repr(args[:1]))

    subprocess.Popen = refused  # forked children inherit it: a plain start anywhere fails the grade
    reaper.adopt_orphans()
    runner.FORK_JUDGES = True
    plan = runner.RunPlan(exercises=catalog.select([]), target=Path({target!r}), device="cpu", seed={seed})
    run = runner.run_suites(plan)
    print(json.dumps([run.judge.get("confinement"), sorted(t["outcome"] for t in run.tests)]))
""")


def test_the_judge_and_its_sandbox_are_forked_not_started(tmp_path: Path) -> None:
    """With every plain start refused, a warm grader still grades the solutions in full: the judge and the sandbox
    were forked, and the sandbox entered the same confinement as a started one."""
    script = FORKED_ONLY.format(repo=str(REPO), target=str(SOLUTIONS), seed=SEED)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    confinement, outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(outcomes) == {"passed"}, outcomes
    cold = json.loads(run_grader("ex1", "--target", str(SOLUTIONS), "--json", "-").stdout)
    assert confinement == cold["confinement"]


def test_a_submission_out_of_time_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    """Unconfined learner code that starts a detached process and then hangs: at the time limit the forked grader's
    whole tree is killed, the row says so, and the batch leaves no process behind."""
    pidfile = tmp_path / "sleeper.pid"
    code = f"""
import subprocess, sys, time
_child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
open({str(pidfile)!r}, "w").write(str(_child.pid))
time.sleep(600)
"""
    submissions = tmp_path / "submissions"
    plant(submissions / "hangs", "ex1_rnn_cell.py", code)
    plant(submissions / "honest", "ex1_rnn_cell.py", "")
    before = set(running_descendants())
    run = run_grader("batch", str(submissions), "--out", str(tmp_path / "grades"), "--seed", str(SEED),
                     "--time-limit", "20", "--similarity", "off",
                     env={"GRADER_CONFINE": "none", "GRADER_ALLOWLIST": "off"})
    rows = {row["student"]: row for row in read_csv(tmp_path / "grades" / "grades.csv")}
    assert rows["hangs"]["error"] == "timed out after 20 s" and rows["honest"]["total"] == "120", (rows, run.stderr)
    sleeper = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(sleeper) and psutil.Process(sleeper).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the detached process outlived the batch"
        time.sleep(0.1)
    assert set(running_descendants()) <= before


def test_a_warm_process_that_cannot_start_leaves_the_plain_way(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from grader import batch

    monkeypatch.setattr(sys, "executable", shutil.which("false") or "/bin/false")
    settings = batch.BatchSettings(out=Path("unused"), seed=SEED, lang="en", device="cpu", time_limit_s=60,
                                   workers=1, suites=None)
    assert batch._ready(batch._launch_warm(settings)) is None
    assert "grading without the warm process" in capsys.readouterr().err


def test_warm_grades_equal_cold_grades_for_the_hostile_corpus(tmp_path: Path) -> None:
    """The attacks of tests/test_hostile.py that end quickly (not the endless loops, not the slow growth of memory),
    each in its own submission, with the static allowlist off so that they run: forked sandboxes hold as started
    ones do, down to every hint."""
    from test_hostile import CASES

    marker = tmp_path / "pwned"
    submissions = tmp_path / "submissions"
    slow = ("loop", "grows")
    for number, (what, filename, code, *_rest) in enumerate(CASES):
        if not any(word in what for word in slow):
            plant(submissions / f"attack{number:02d}", filename, code.replace("{marker}", str(marker)))
    env = {"GRADER_ALLOWLIST": "off"}
    for mode in ("warm", "cold"):
        run = run_grader("batch", str(submissions), "--out", str(tmp_path / mode), "--seed", str(SEED),
                         "--similarity", "off", *(["--cold"] if mode == "cold" else []), env=env, timeout=900)
        errors = [(row["student"], row["error"]) for row in read_csv(tmp_path / mode / "grades.csv") if row["error"]]
        assert run.returncode == 0, (mode, errors, run.stderr)
    warm_reports, cold_reports = reports(tmp_path / "warm"), reports(tmp_path / "cold")
    assert len(warm_reports) >= 10
    for student, report in warm_reports.items():
        assert report == cold_reports[student], student
        assert report["score"] < report["max_score"], student
    assert not marker.exists()


def test_every_forked_grader_has_its_exit_code_answered(tmp_path: Path) -> None:
    """Many graders that end at once (`--help`): each one's exit code comes back, none is reaped unanswered."""
    from concurrent.futures import ThreadPoolExecutor

    from grader import warm

    server = warm.WarmGrader({**os.environ})
    server.wait_ready()
    try:
        def one(number: int) -> int | None:
            with open(tmp_path / f"out{number}", "wb") as out, open(tmp_path / f"err{number}", "wb") as err:
                return server.run(["--help"], {**os.environ}, REPO, out, err, time_limit_s=60)

        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = list(pool.map(one, range(120)))
    finally:
        server.close()
    assert codes == [0] * 120
    assert b"usage: python -m grader" in (tmp_path / "out7").read_bytes()


def test_a_warm_process_that_dies_mid_batch_leaves_the_submission_to_the_plain_way(tmp_path: Path) -> None:
    """The warm process killed while it grades: that submission is graded again the plain way (same grade), the
    forked grader's tree is killed, and every later one is graded the plain way too."""
    import threading

    from grader import batch, warm

    target = plant(tmp_path / "submission", "ex1_rnn_cell.py", "_slow = sum(range(4 * 10**7))  # still grading a while")
    settings = batch.BatchSettings(out=tmp_path / "out", seed=SEED, lang="en", device="cpu", time_limit_s=300,
                                   workers=1, suites=None)
    server = batch._ready(batch._launch_warm(settings))
    assert server is not None
    def kill_while_grading() -> None:
        """Kill the warm process once a forked grader has its judge and sandbox running (the planted loop keeps
        them running for a while): a timer alone could fire after a fast machine had finished the grade."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if len(psutil.Process(server.process.pid).children(recursive=True)) >= 3:
                    break
            except psutil.Error:
                return
            time.sleep(0.01)
        server.process.kill()

    try:
        threading.Thread(target=kill_while_grading, daemon=True).start()
        for number in range(2):
            with open(tmp_path / f"out{number}", "w+b") as out, open(tmp_path / f"err{number}", "w+b") as err:
                code, forked = batch._grade_to_end(batch._command(target, settings), out, err, 300, server)
            assert (code, forked) == (0, False), (tmp_path / f"err{number}").read_text()
            assert json.loads((tmp_path / f"out{number}").read_text())["score"] == 120
    finally:
        server.close()
    assert not [command for command in running_descendants().values() if "warm.py" in command]


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_a_forked_child_is_waited_for_with_and_without_a_deadline(pidfd: bool, monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    from grader import forking

    if not pidfd:
        monkeypatch.setattr(forking.ForkedProcess, "_pidfd", lambda self: None)
    env = dict(os.environ)

    def child(code: int, seconds: float) -> forking.ForkedProcess:
        return forking.ForkedProcess(forking.fork(lambda: (time.sleep(seconds), code)[1], {}, env, str(tmp_path)))

    slow = child(7, 30.0)
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        slow.wait(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 5.0 and slow.returncode is None
    slow.kill()
    assert slow.wait(timeout=10) == -9
    quick = child(3, 0.2)
    assert quick.wait() == 3 and quick.wait(timeout=0) == 3 and quick.poll() == 3
