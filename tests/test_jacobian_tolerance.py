"""Exercise 5's dh_T/dh_0 is compared element by element against a size that covers every correct way of
computing it: the rounding of the product, and the rounding of each 1 - h_k², which for a saturated unit is
far more than eps times |1 - h_k²| (seed 564599499 once failed correct code that way)."""
from __future__ import annotations

import importlib.util
import random
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch

from conftest import REPO, SOLUTIONS, run_grader
from plants import PLANTS

sys.path.insert(0, str(REPO))
from grader.judge.tolerance import allowed_error  # noqa: E402


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the exercise files import their siblings
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


with warnings.catch_warnings():  # its tests' @graded marker is the judge's, unknown to this pytest run
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    SUITE = load(REPO / "grader" / "suites" / "test_ex5_vanishing.py", "suite_ex5_vanishing")
CORRECT = [load(SOLUTIONS / "ex5_vanishing.py", "solution_ex5"), load(REPO / "tests" / "variants" / "ex5_vanishing.py",
                                                                        "variant_ex5")]


def worst_ratios(seed: int, hidden_jacobian) -> list[float]:
    """|got - want| / allowed, the largest element, for each case of the suite's check."""
    class Settings:
        device = torch.device("cpu")
    Settings.seed = seed
    make = SUITE.Inputs(Settings, "test_hidden_jacobian")
    ratios = []
    for dtype in SUITE.DTYPES:
        for T, H in ((1, 4), (6, 5)):
            h_seq, w_hh, last_state, h0 = SUITE.unrolled_rnn(make, T, H, dtype)
            want, got = SUITE.jacobian(last_state, h0), hidden_jacobian(h_seq, w_hh)
            error = (got.double() - want.double()).abs() / allowed_error(want, SUITE.product_size(h_seq, w_hh))
            ratios.append(float(error.max()))
    return ratios


def test_both_correct_implementations_stay_far_inside_on_fresh_seeds() -> None:
    rng = random.SystemRandom()
    seeds = [564599499] + [rng.randrange(2**31) for _ in range(400)]
    worst = max((max(worst_ratios(seed, m.hidden_jacobian)), seed) for seed in seeds for m in CORRECT)
    assert worst[0] < 0.05, f"seed {worst[1]}: a correct result at {worst[0]:.3g} of the allowed error"


@pytest.mark.parametrize("plant", [p for p in PLANTS if p.test == "ex5_vanishing::hidden_jacobian"],
                         ids=lambda p: p.key)
def test_the_planted_mistakes_stay_far_outside(plant) -> None:
    namespace: dict = {"torch": torch}
    exec(plant.code, namespace)
    rng = random.SystemRandom()
    for seed in [rng.randrange(2**31) for _ in range(50)]:
        assert max(worst_ratios(seed, namespace["hidden_jacobian"])) > 100, seed


@pytest.mark.parametrize("target", ["solutions", "tests/variants"])
def test_the_seed_that_failed_correct_code_now_gives_full_marks(target: str) -> None:
    run = run_grader("ex5", "--target", target, "--seed", "564599499", "--lang", "en")
    assert run.returncode == 0 and "20/20" in run.stdout, run.stdout + run.stderr
