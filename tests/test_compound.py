"""Compound, real-style submissions (tests/compound.py): every failing value check of the function names
exactly the catalog's deviations, in English and in Chinese; unusual correct code keeps full marks.

Plants are graded in batches of at most one per function (the catalog's cells compute their gates
inline, so plants of different functions cannot mask each other), on a fresh seed each session:
the identification must hold on every seed, not on a lucky one.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from compound import CATALOG, CORRECT, Compound
from conftest import batches, grade, grade_batches, plant, results_by_id

SEED = random.SystemRandom().randrange(2 ** 31)
GRADED = ("ex1", "ex3", "ex4")


def function_of(item: Compound) -> str:
    return re.search(r"^def (\w+)\(", item.code, re.M).group(1)


BATCHES = batches(CATALOG, function_of)


def test_the_catalog_has_thirty_compound_submissions_of_every_gate_function() -> None:
    assert len(CATALOG) >= 30 and len({item.key for item in CATALOG}) == len(CATALOG)
    functions = [function_of(item) for item in CATALOG]
    for name in ("rnn_cell", "lstm_gates", "lstm_cell", "gru_gates", "gru_cell"):
        assert functions.count(name) >= 5, name
    for item in CATALOG:
        deviations = {key.split(":")[0] if not key.startswith("act:") else key for key in item.mistakes}
        assert len(item.mistakes) >= 2 and len(item.en) == len(item.zh) >= 2, item.key
        assert len(item.en) <= len(deviations), item.key


@pytest.fixture(scope="module")
def graded_batches(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, dict[str, Any]]]:
    reports = grade_batches(tmp_path_factory.mktemp, BATCHES, *GRADED, "--seed", str(SEED))
    return [{lang: results_by_id(report) for lang, report in languages.items()} for languages in reports]


@pytest.mark.parametrize("number", range(len(BATCHES)))
def test_every_deviation_of_a_compound_submission_is_named_in_both_languages(graded_batches, number: int) -> None:
    for item in BATCHES[number]:
        for lang, words in (("en", item.en), ("zh", item.zh)):
            results = graded_batches[number][lang]
            for test_id in item.tests:
                result = results[test_id]
                where = (item.key, test_id, lang, f"--seed {SEED}", result.get("hint"))
                assert result["status"] == "failed", where
                assert set(result.get("mistakes", [])) == item.mistakes, where
                for word in words:
                    assert word in result["hint"], (word, *where)


@pytest.mark.parametrize("number", range(len(BATCHES)))
def test_nothing_but_the_planted_functions_is_blamed(graded_batches, number: int) -> None:
    """Every other check passes, or is sent to a planted function (a caller right given torch's helper)."""
    planted = {function_of(item) for item in BATCHES[number]}
    for test_id, result in graded_batches[number]["en"].items():
        if result["status"] == "passed":
            continue
        blamed = result["hint"].split(":", 1)[0]
        assert blamed in planted or any(f"given torch's {name}:" in result["hint"] for name in planted), \
            (test_id, f"--seed {SEED}", result["hint"])


def test_unusual_correct_cells_keep_full_marks(tmp_path: Path) -> None:
    """nn.Linear pairs in a class, einsum, one concatenated weight, float64 inside, torch.lerp."""
    target = tmp_path / "submission"
    for filename, code in CORRECT.items():
        plant(target, filename, code)
    run = grade("--target", str(target), "--seed", str(SEED))
    failed = {k: v.get("hint") for k, v in results_by_id(run.report).items() if v["status"] != "passed"}
    assert run.returncode == 0 and run.report["score"] == 120, (f"--seed {SEED}", failed)
