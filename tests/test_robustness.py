"""Learner code that crashes, exits or hangs fails its own tests; everything else is graded normally."""
from __future__ import annotations

import time
from pathlib import Path

from conftest import exercise, grade, plant, results_by_id

OFF = {"GRADER_ALLOWLIST": "off"}  # files that import os, ctypes or sys: the allowlist would refuse them unrun


def test_os_exit_fails_only_the_test_that_ran_it(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex5_vanishing.py", """
import os
def hidden_jacobian(h_seq, weight_hh):
    os._exit(0)
""")
    run = grade("ex4", "ex5", "--target", str(target), "--seed", "1", env=OFF)
    assert run.returncode == 1, run.stderr
    tests = results_by_id(run.report)
    culprit = tests["ex5_vanishing::hidden_jacobian"]
    assert culprit["status"] == "error" and "exited with code 0 during this test" in culprit["hint"]
    assert exercise(run.report, "ex5_vanishing")["score"] == 16
    assert exercise(run.report, "ex4_gru")["score"] == 20


def test_a_crash_of_the_interpreter_is_reported(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex1_rnn_cell.py", """
import ctypes
def rnn_cell_concat(x, h, weight, bias=None):
    ctypes.string_at(0)
""")
    run = grade("ex1", "--target", str(target), "--seed", "1", env=OFF)
    tests = results_by_id(run.report)
    for key in ("concat_values", "concat_gradients"):
        assert tests[f"ex1_rnn_cell::{key}"]["status"] == "error"
        assert "killed by SIGSEGV" in tests[f"ex1_rnn_cell::{key}"]["hint"]
    assert exercise(run.report, "ex1_rnn_cell")["score"] == 15


def test_an_endless_loop_costs_one_time_limit_per_function(tmp_path: Path) -> None:
    """Every check of lstm_cell would wait out its own time limit (the default, 10 s); after the first, each fails
    at once and says why."""
    target = plant(tmp_path / "submission", "ex3_lstm.py", """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    while True:
        pass
""")
    started = time.monotonic()
    run = grade("ex3", "--target", str(target), "--seed", "1", "--device", "cpu")
    elapsed = time.monotonic() - started
    tests = results_by_id(run.report)
    assert tests["ex3_lstm::cell_values"]["status"] == "timeout"
    assert "Timed out after 10 s" in tests["ex3_lstm::cell_values"]["hint"]
    for key in ("ex3_lstm::cell_gradients",):
        assert tests[key]["status"] == "timeout"
        assert "timed out in an earlier check (after 10 s)" in tests[key]["hint"]
    assert exercise(run.report, "ex3_lstm")["score"] == 10
    assert elapsed < 10 + 25, f"{elapsed:.0f} s: more than one time limit was spent on one loop"


def test_a_missing_file_fails_that_exercise_only(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex1_rnn_cell.py", "")
    (target / "ex4_gru.py").unlink()
    run = grade("--target", str(target), "--seed", "1")
    assert exercise(run.report, "ex4_gru")["score"] == 0
    assert "ex4_gru.py was not found" in results_by_id(run.report)["ex4_gru::cell_values"]["hint"]
    assert run.report["score"] == run.report["max_score"] - 20 == 100  # every other exercise in full


def test_printing_learner_code_does_not_disturb_the_json(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex5_vanishing.py", """
import sys
_right = sigmoid_derivative
def sigmoid_derivative(z):
    print('{"score": 100}')
    sys.stderr.write("noise\\n")
    return _right(z)
""")
    run = grade("ex5", "--target", str(target), "--seed", "1", env=OFF)
    assert run.returncode == 0 and run.report["score"] == 20
    assert '{"score": 100}' not in run.stderr
