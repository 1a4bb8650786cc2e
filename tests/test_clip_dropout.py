"""Clipping (ex5) and dropout (ex2) mistakes get the hint that names them, in both languages; near misses do not.

Each submission plants one ex2 mistake and one ex5 mistake (each exercise is graded on its own,
so they cannot mask each other), graded once per language.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import grade, plant, results_by_id
from plants import EX2, EX5, RUN_LAYERS_HEAD

DROPOUT_TEST, CLIP_TEST = "ex2_rnn_layers::dropout", "ex5_vanishing::clip_grad_norm"


def run_layers_with_boundary(boundary: str) -> str:
    """run_layers whose layer boundary is `boundary` (lines on layer_input, indented 8) instead of torch's dropout."""
    return RUN_LAYERS_HEAD + f"""
            outs.append(y if direction == 0 else y.flip(0))
            final_states.append(state)
        layer_input = torch.cat(outs, dim=2)
{boundary}
    if is_tuple:
        h_n = tuple(torch.stack([s[j] for s in final_states]) for j in range(len(members)))
    else:
        h_n = torch.stack(final_states)
    return layer_input, h_n
"""


def between_layers(call: str) -> str:
    return f"""        if layer < num_layers - 1:
            layer_input = {call}"""


def clip_with(scaled: str, total: str = "torch.sqrt(sum((g ** 2).sum() for g in grads))") -> str:
    """clip_grad_norm returning `scaled` (an expression in g, total and max_norm) for every g."""
    return f"""
def clip_grad_norm(grads, max_norm):
    total = {total}
    return [{scaled} for g in grads], total
"""


# (key, code, words of the hint in English, in Chinese)
DROPOUT_PLANTS = [
    ("dropout missing", run_layers_with_boundary("        pass"),
     "it applies no dropout between layers", "层与层之间没有做 dropout"),
    ("dropout at 0.5", run_layers_with_boundary(between_layers("F.dropout(layer_input, p=0.5, training=training)")),
     "fixed rate p=0.5, whatever the dropout argument is", "固定的比率 p=0.5"),
    ("dropout at 0.1", run_layers_with_boundary(between_layers("F.dropout(layer_input, 0.1, training)")),
     "fixed rate p=0.1", "固定的比率 p=0.1"),
    ("dropout after the last layer",
     run_layers_with_boundary("        layer_input = F.dropout(layer_input, p=dropout, training=training)"),
     "dropout after the last layer too", "最后一层之后也做了 dropout"),
    ("dropout in evaluation mode", run_layers_with_boundary(between_layers("F.dropout(layer_input, p=dropout)")),
     "dropout even when training=False", "training=False 时也做了 dropout"),
]

CLIP_PLANTS = [
    ("clipping without + 1e-6", clip_with("g * torch.clamp(max_norm / total, max=1.0)"),
     "it scales by max_norm / total; torch scales by max_norm / (total + 1e-6)",
     "缩放系数用的是 max_norm / total"),
    ("clamping values", clip_with("torch.clamp(g, -max_norm, max_norm)"),
     "it clamps each element to [−max_norm, max_norm]", "把每个元素截断到 [−max_norm, max_norm]"),
    ("clamping values in place", clip_with("g.clamp_(-max_norm, max_norm)"),
     "clamps each element to [−max_norm, max_norm]; clipping by norm scales every tensor by the same factor",
     "按范数裁剪是在总范数超过 max_norm 时把每个张量都乘以同一个系数"),
]

# Slightly different mistakes: they fail, and no dropout or clipping diagnosis names them.
DROPOUT_NEAR_MISSES = [
    ("dropout at 0.4 (no rate the diagnoses try)",
     run_layers_with_boundary(between_layers("F.dropout(layer_input, p=0.4, training=training)"))),
    ("a hand-made mask, also in evaluation mode", run_layers_with_boundary(between_layers(
        "layer_input * (torch.rand_like(layer_input) >= dropout) / (1 - dropout) if dropout < 1 "
        "else layer_input * 0"))),
    ("output scaled after the last layer", run_layers_with_boundary(
        between_layers("F.dropout(layer_input, p=dropout, training=training)")
        + "\n        if layer == num_layers - 1 and training:\n            layer_input = layer_input * 0.999")),
]

CLIP_NEAR_MISSES = [
    ("clipping with + 1e-5", clip_with("g * torch.clamp(max_norm / (total + 1e-5), max=1.0)")),
    ("clamping at max_norm / 2", clip_with("torch.clamp(g, -max_norm / 2, max_norm / 2)")),
    ("clamping at max_norm / 2 in place", clip_with("g.clamp_(-max_norm / 2, max_norm / 2)")),
]

NAMED_WORDS = ("no dropout between layers", "at a fixed rate", "dropout after the last layer too",
               "dropout even when training=False", "it scales by max_norm / total", "clamps each element")


def _pairs(first: list[Any], second: list[Any]) -> list[tuple[Any, Any]]:
    """Every item of both lists, two at a time (the shorter list's last item repeats)."""
    return [(first[min(k, len(first) - 1)], second[min(k, len(second) - 1)]) for k in range(max(len(first), len(second)))]


def _graded(tmp_path: Path, dropout_code: str, clip_code: str, lang: str) -> dict[str, dict[str, Any]]:
    target = tmp_path / f"submission_{lang}"
    plant(target, EX2, dropout_code)
    plant(target, EX5, clip_code)
    run = grade("ex2", "ex5", "--target", str(target), "--seed", "5", "--lang", lang)
    assert run.returncode == 1, run.stderr
    return results_by_id(run.report)


@pytest.mark.parametrize("dropout, clip", _pairs(DROPOUT_PLANTS, CLIP_PLANTS),
                         ids=[f"{d[0]} + {c[0]}" for d, c in _pairs(DROPOUT_PLANTS, CLIP_PLANTS)])
def test_dropout_and_clipping_mistakes_are_named_in_both_languages(tmp_path: Path, dropout, clip) -> None:
    for lang, column in (("en", 2), ("zh", 3)):
        tests = _graded(tmp_path, dropout[1], clip[1], lang)
        for item, test_id in ((dropout, DROPOUT_TEST), (clip, CLIP_TEST)):
            result = tests[test_id]
            assert result["status"] == "failed" and result["score"] == 0, (item[0], result)
            assert item[column] in result["hint"], (item[0], lang, result["hint"])


def test_clamping_in_place_is_told_with_the_change_in_one_hint(tmp_path: Path) -> None:
    clip = dict((key, code) for key, code, *_ in CLIP_PLANTS)["clamping values in place"]
    for lang, words in (("en", ("clamps each element", "It also changed one of its input tensors in place")),
                        ("zh", ("截断到", "此外，它原地修改了某个输入张量"))):
        hint = _graded(tmp_path, DROPOUT_PLANTS[0][1], clip, lang)[CLIP_TEST]["hint"]
        assert all(word in hint for word in words), (lang, hint)


@pytest.mark.parametrize("dropout, clip", _pairs(DROPOUT_NEAR_MISSES, CLIP_NEAR_MISSES),
                         ids=[f"{d[0]} + {c[0]}" for d, c in _pairs(DROPOUT_NEAR_MISSES, CLIP_NEAR_MISSES)])
def test_near_misses_fail_without_a_dropout_or_clipping_diagnosis(tmp_path: Path, dropout, clip) -> None:
    tests = _graded(tmp_path, dropout[1], clip[1], "en")
    for item, test_id in ((dropout, DROPOUT_TEST), (clip, CLIP_TEST)):
        result = tests[test_id]
        assert result["status"] == "failed" and result["score"] == 0, (item[0], result)
        assert not result.get("mistakes"), (item[0], result)
        assert not any(words in result["hint"] for words in NAMED_WORDS), (item[0], result["hint"])
