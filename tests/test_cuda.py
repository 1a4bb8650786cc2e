"""The CUDA path: the same grading on a GPU. Skipped where no CUDA device exists."""
from __future__ import annotations

import pytest
import torch

from conftest import grade, plant, results_by_id

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]


def test_solutions_score_full_marks_on_cuda() -> None:
    run = grade("--target", "solutions", "--device", "cuda", "--seed", "21")
    assert run.returncode == 0, run.stderr
    assert run.report["device"] == "cuda" and run.report["score"] == 120


def test_auto_picks_cuda() -> None:
    run = grade("ex1", "--target", "solutions", "--seed", "21")
    assert run.report["device"] == "cuda"


def test_stubs_score_zero_on_cuda() -> None:
    run = grade("--device", "cuda", "--seed", "21")
    assert run.returncode == 1 and run.report["score"] == 0


def test_a_tensor_left_on_the_cpu_is_named(tmp_path) -> None:
    target = plant(tmp_path / "submission", "ex4_gru.py", """
_right_gru_cell = gru_cell
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return _right_gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh).cpu()
""")
    run = grade("ex4", "--target", str(target), "--device", "cuda", "--seed", "21")
    hint = results_by_id(run.report)["ex4_gru::cell_values"]["hint"]
    assert "is on cpu, expected cuda" in hint
