"""benchmarks/run.py: a one-round run writes every row with numbers that parse (no timing is asserted)."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from conftest import REPO

# The benchmark reads process trees and their memory from /proc and waits with os.wait4: Linux only.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="benchmarks/run.py reads /proc")

SCRIPT = REPO / "benchmarks" / "run.py"
ROW_LABELS = ['python -c "import torch"', "python -m grader --target solutions",
              "python -m grader ex1 --target solutions", "bare pytest over the same suites"]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)


def _table_rows(text: str) -> dict[str, list[str]]:
    """First cell -> the other cells, for every row of the markdown tables in `text`."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, str]:
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    done = _run("--quick", "--rounds", "1", "--batch-size", "2", "--one", "ex1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return done, out.read_text(encoding="utf-8")


KERNEL = importlib.util.find_spec("jupyter_client") is not None and importlib.util.find_spec("ipykernel") is not None


def test_every_measurement_has_a_row_with_numbers(quick_run) -> None:
    _, results = quick_run
    rows = _table_rows(results)
    for label in ROW_LABELS:
        median, minimum, ratio, paired, tree_mib, process_mib, runs, _ = rows[label]
        assert float(minimum) <= float(median) and float(median) > 0
        assert float(ratio) > 0 and float(paired) > 0
        assert float(tree_mib) > 0 and float(process_mib) > 0
        assert runs == "1"
    assert rows[ROW_LABELS[0]][2] == "1.00", "import torch is the unit of the ratios"
    batch = next(cells for label, cells in rows.items() if "2 submissions" in label)
    assert float(batch[0]) > 0 and re.fullmatch(r"\d+\.\d submissions/min", batch[-1])
    relabels = ["--watch: save to result (ex1)"] + (["check('ex1') in a Jupyter kernel"] if KERNEL else [])
    for label in relabels:  # a re-grade of one process that stays up: timed after the save or the cell is sent
        median, minimum, ratio, _, tree_mib, _, runs, _ = rows[label]
        assert 0 < float(minimum) <= float(median) and float(ratio) > 0 and float(tree_mib) > 0 and runs == "1"


def test_goals_say_met_or_not(quick_run) -> None:
    _, results = quick_run
    rows = _table_rows(results)
    goals = [label for label in rows if label.startswith(("full grade", "one exercise", "overhead", "batch ≥",
                                                          "watch re-grade"))]
    assert len(goals) == 5
    for goal in goals:
        value, verdict = rows[goal]
        assert verdict in ("met", "NOT met")
        assert re.fullmatch(r"[+-]?\d+\.\d+(×|%| s|/min)", value)


def test_results_describe_machine_and_commands(quick_run) -> None:
    done, results = quick_run
    for words in ("## Machine", "- CPU: ", "- torch: ", "- git commit: ", "load average", "## Commands",
                  "python -m grader ex1 --target solutions --device cpu --seed 1234", "GRADER_TARGET=$REPO/solutions"):
        assert words in results, words
    assert "bare pytest over the same suites (from grader.runner)" in results, \
        "the bare pytest command line should come from the grader; adapt bare_pytest_invocation"
    assert _table_rows(done.stdout).keys() >= set(ROW_LABELS), "the table is printed too"


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    done = _run("--rounds", "0", "--out", str(tmp_path / "r.md"))
    assert done.returncode == 2 and "--rounds" in done.stderr and "Traceback" not in done.stderr
    done = _run("--out", str(tmp_path / "missing" / "r.md"))
    assert done.returncode == 2 and "does not exist" in done.stderr
    done = _run("--one", "nosuch", "--out", str(tmp_path / "r.md"))
    assert done.returncode == 2 and "unknown exercise 'nosuch'" in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_says_so(tmp_path: Path) -> None:
    done = _run("--device", "cuda", "--out", str(tmp_path / "r.md"))
    assert done.returncode == 2 and "no CUDA device" in done.stderr
    assert not (tmp_path / "r.md").exists()


def test_submissions_alternate_clean_and_planted(tmp_path: Path) -> None:
    bench = _load_script()
    made = bench.make_submissions(tmp_path, 4)
    solution_sizes = {p.name: p.stat().st_size for p in (REPO / "solutions").glob("*.py")}
    for index, folder in enumerate(made):
        grown = [p.name for p in folder.glob("*.py") if p.stat().st_size != solution_sizes[p.name]]
        assert grown == ([] if index % 2 == 0 else [bench._plants()[index // 2][0]])


def test_tree_memory_counts_children(tmp_path: Path) -> None:
    """A parent that starts a child holding 200 MiB: the tree's peak includes the child's memory."""
    bench = _load_script()
    child = "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    invocation = bench.Invocation([sys.executable, "-c", parent], bench.base_environment(), REPO)
    measured = bench.measure(invocation, tmp_path, timeout_s=60)
    assert measured.tree_rss_bytes >= 200 * 2**20
    assert measured.largest_process_bytes >= 200 * 2**20


def test_a_batch_command_grades_the_folder_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where `python -m grader batch` exists, it is run once on the folder of submissions."""
    bench = _load_script()
    seen: list[int] = []

    def fake_batch_command(folder: Path, device: str, seed: int, out: Path, cold: bool = False) -> list[str]:
        seen.append(len(list(folder.iterdir())))
        count_is_three = "import sys, pathlib; sys.exit(len(list(pathlib.Path(sys.argv[1]).iterdir())) != 3)"
        return [sys.executable, "-c", count_is_three, str(folder)]

    monkeypatch.setattr(bench, "batch_command", fake_batch_command)
    result = bench.run_batch(3, "cpu", 1234, timeout_s=60)
    assert seen == [3]
    assert result.label == "python -m grader batch (3 submissions)"
    assert result.per_minute == pytest.approx(180.0 / result.measurement.wall_s)


def test_a_failing_measured_command_stops_the_benchmark_with_its_output(tmp_path: Path) -> None:
    done = _run("--quick", "--rounds", "1", "--no-batch", "--timeout", "1", "--out", str(tmp_path / "r.md"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "was stopped after 1 s (--timeout)" in done.stderr
    assert not (tmp_path / "r.md").exists()


def test_the_diagnosis_benchmark_writes_a_row_per_submission_with_numbers(tmp_path: Path) -> None:
    out = tmp_path / "DIAGNOSIS.md"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "diagnosis.py"), "--rounds", "1", "--limit", "2",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 3, rows  # the header and two submissions
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] in ("ex1", "ex3", "ex4") and float(cells[2]) > 0 and re.fullmatch(r"[+-]\d+\.\d{3}", cells[3])
    assert re.search(r"Median over the catalog: [+-]\d+\.\d{3} s", out.read_text(encoding="utf-8"))


def test_the_wire_benchmark_times_both_formats() -> None:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "wire.py"), "--repeat", "3"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    for fmt in ("previous", "wire"):
        assert re.search(rf"^{fmt} +round trip \(request and reply, both ends\): \d+\.\d{{3}} ms$", done.stdout, re.M)
    assert len(re.findall(r"^  (previous|wire) .* \d+\.\d us$", done.stdout, re.M)) == 8
