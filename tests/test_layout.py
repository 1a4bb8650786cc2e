"""Stubs and solutions share one API; modules.py is the same ready-made file in both."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

EXERCISE_FILES = ["ex1_rnn_cell.py", "ex2_rnn_layers.py", "ex3_lstm.py", "ex4_gru.py", "ex5_vanishing.py",
                  "ex6_sequence_tasks.py"]
CONTRACT = {
    "ex1_rnn_cell.py": ["rnn_cell", "rnn_cell_concat", "rnn_layer"],
    "ex2_rnn_layers.py": ["run_layers"],
    "ex3_lstm.py": ["lstm_gates", "lstm_cell"],
    "ex4_gru.py": ["gru_gates", "gru_cell"],
    "ex5_vanishing.py": ["sigmoid_derivative", "chain_gradient", "hidden_jacobian", "gradient_norms", "clip_grad_norm"],
    "ex6_sequence_tasks.py": ["tag_steps", "final_features", "classify_sequence", "generate", "shift_right", "seq2seq"],
}


def functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}


def test_modules_py_is_identical_in_exercises_and_solutions() -> None:
    """The same ready-made file wherever a gradeable folder needs one (tests/variants: the seed sweep's second
    correct implementation)."""
    shipped = (REPO / "exercises" / "modules.py").read_bytes()
    assert (REPO / "solutions" / "modules.py").read_bytes() == shipped
    assert (REPO / "tests" / "variants" / "modules.py").read_bytes() == shipped


@pytest.mark.parametrize("filename", EXERCISE_FILES)
def test_stub_and_solution_have_the_contract_signatures(filename: str) -> None:
    stubs, solutions = functions(REPO / "exercises" / filename), functions(REPO / "solutions" / filename)
    assert list(stubs) == CONTRACT[filename] == list(solutions)
    for name in CONTRACT[filename]:
        assert ast.dump(stubs[name].args) == ast.dump(solutions[name].args), name


@pytest.mark.parametrize("filename", EXERCISE_FILES)
def test_every_stub_is_a_docstring_then_raise_not_implemented(filename: str) -> None:
    for name, node in functions(REPO / "exercises" / filename).items():
        docstring = ast.get_docstring(node)
        assert docstring and ("Args:" in docstring or "Returns" in docstring), name
        last = node.body[-1]
        assert isinstance(last, ast.Raise) and "NotImplementedError" in ast.unparse(last), name
        assert "# TODO" in ast.get_source_segment((REPO / "exercises" / filename).read_text(encoding="utf-8"), node)


def test_the_grader_suites_have_no_bare_assert_so_the_judge_skips_rewriting_them(tmp_path: Path) -> None:
    """The judge runs the grader's own suites with --assert=plain: right only while none of them relies on an
    assert (their verdicts come from the toolkit). Private suites keep pytest's rewriting, so their asserts show
    their values."""
    from grader import catalog, runner

    suites = sorted((REPO / "grader" / "suites").glob("test_*.py"))
    assert len(suites) >= len(catalog.EXERCISES)  # and the integration suite
    for suite in suites:
        tree = ast.parse(suite.read_text(encoding="utf-8"))
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not asserts, f"{suite.name} lines {asserts}: judge with the toolkit, or drop --assert=plain"
    plan = runner.RunPlan(catalog.EXERCISES, tmp_path, "cpu", 1)
    assert "--assert=plain" in runner._pytest_command(plan, tmp_path / "report.json", [])
    private = runner.RunPlan(catalog.EXERCISES, tmp_path, "cpu", 1, private_suites=tmp_path, suites_dir=tmp_path)
    assert "--assert=plain" not in runner._pytest_command(private, tmp_path / "report.json", [])
