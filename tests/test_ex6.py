"""Exercise 6 (the four shapes of a sequence task): its oracle, the modules handed to learner code, what the
forbidden-code rules allow there, and hints that name a mistake only when the mistake was identified.

The catalog of planted ex6 mistakes, each with its hint in both languages, is graded by test_diagnosis.py.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import REPO, grade, plant, results_by_id

sys.path.insert(0, str(REPO))
from grader.judge import forbidden, oracle  # noqa: E402
from grader.judge.remote import encode_argument  # noqa: E402
from grader.sandbox import given  # noqa: E402

KINDS = (given.GivenRNN, given.GivenLSTM, given.GivenGRU)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("layers", (1, 2, 3))
@pytest.mark.parametrize("bidirectional", (False, True))
def test_the_reference_sequence_vector_is_what_torch_outputs_hold(kind, layers: int, bidirectional: bool) -> None:
    """The oracle reads h_n's rows; torch's output says the same: the last layer's forward state after the last
    step, its backward state after the first."""
    torch.manual_seed(layers)
    H = 5  # noqa: N806
    rnn = kind(3, H, layers, bidirectional=bidirectional, dtype=torch.float64)
    output, state = rnn(torch.randn(6, 4, 3, dtype=torch.float64))
    features = oracle.final_features(oracle.hidden_of(state), bidirectional)
    seen = [output[-1, :, :H]] + ([output[0, :, H:]] if bidirectional else [])
    assert torch.equal(features, torch.cat(seen, dim=1))


def test_modules_reach_the_sandbox_as_they_were_built() -> None:
    """A module is sent as its class, arguments and weights, through the channel's codec, and rebuilt as the same
    module."""
    from grader.sandbox import main, wire

    def _decode(value):
        return main._decode(wire.decode_request(wire.encode_request(value)))

    torch.manual_seed(0)
    modules = [given.GivenLSTM(3, 4, 2, bidirectional=True, dtype=torch.float64), given.GivenRNN(3, 4, nonlinearity="relu"),
               nn.Linear(8, 5, bias=False), nn.Embedding(7, 3)]
    x = torch.randn(5, 2, 3)
    for module in modules:
        rebuilt = _decode(encode_argument(module))
        assert type(rebuilt) is type(module) and repr(rebuilt) == repr(module)
        assert all(torch.equal(a, b) for a, b in zip(rebuilt.state_dict().values(), module.state_dict().values()))
    lstm, relu_rnn = _decode(encode_argument(modules[0])), _decode(encode_argument(modules[1]))
    assert torch.equal(lstm(x.double())[0], modules[0](x.double())[0])
    assert torch.equal(relu_rnn(x)[0], modules[1](x)[0])


def test_only_the_grader_s_own_module_classes_are_sent() -> None:
    """A plain nn.LSTM would run torch's kernels with learner code as the nearest caller: the run-time guard
    would refuse it. The judge sends given.GivenLSTM, whose forward the guard sees as the grader's."""
    with pytest.raises(TypeError):
        encode_argument(nn.LSTM(3, 4))


def test_ex6_may_call_the_modules_it_is_given_but_not_build_recurrent_ones(tmp_path: Path) -> None:
    assert forbidden.scan(REPO / "solutions" / "ex6_sequence_tasks.py") == {}
    path = tmp_path / "ex6_sequence_tasks.py"
    path.write_text(textwrap.dedent("""
        import torch
        def tag_steps(rnn, head, x, hx=None):
            return head(rnn(x, hx)[0])
        def classify_sequence(rnn, head, x, hx=None):
            mine = torch.nn.LSTM(x.shape[-1], 4)
            return head(mine(x)[1][0][-1])
        def generate(rnn, embedding, head, first_input, steps, hx=None):
            return torch._VF.gru(first_input, hx)
    """), encoding="utf-8")
    found = {name: [v.what for v in violations] for name, violations in forbidden.scan(path).items()}
    assert set(found) == {"classify_sequence", "generate"}  # tag_steps calls what it is given: allowed
    assert found["classify_sequence"] == ["torch.nn.LSTM(...)"] and "torch._VF.gru" in found["generate"]


def test_ex6_hints_in_a_graded_submission(tmp_path: Path) -> None:
    """A recurrent module built in ex6 is refused, hx ignored is named; calling the given modules is fine."""
    target = plant(tmp_path / "submission", "ex6_sequence_tasks.py", """
def tag_steps(rnn, head, x, hx=None):
    return head(rnn(x)[0])

def classify_sequence(rnn, head, x, hx=None):
    mine = torch.nn.GRU(x.shape[-1], 4)
    return head(mine(x)[0][-1])
""")
    run = grade("ex6", "--target", str(target), "--seed", "5")
    tests = results_by_id(run.report)
    assert run.returncode == 1
    assert "it ignores hx" in tests["ex6_sequence_tasks::tag_steps"]["hint"]
    assert "uses torch.nn.GRU(...)" in tests["ex6_sequence_tasks::classify_sequence"]["hint"]
    for test_id in ("final_features", "generate", "shift_right", "seq2seq_teacher_forcing", "seq2seq_inference"):
        assert tests[f"ex6_sequence_tasks::{test_id}"]["status"] == "passed", test_id


def test_near_misses_of_known_ex6_mistakes_are_not_named(tmp_path: Path) -> None:
    """A wrong shape that is not h_n[-1] alone, and wrong values near a known mistake: the hints say what
    differs, never which mistake it is."""
    target = plant(tmp_path / "submission", "ex6_sequence_tasks.py", """
def final_features(h_n, bidirectional):
    return h_n[-1] * 1.001

def generate(rnn, embedding, head, first_input, steps, hx=None):
    logits, state = [], hx
    for _ in range(steps):
        output, state = rnn(first_input.unsqueeze(0), state)
        logits.append(head(output[0]) * (1 + 1e-6))
    return torch.stack(logits)
""")
    for lang, words in (("en", ("has shape", "differs from")), ("zh", ("的形状是", "相差"))):
        tests = results_by_id(grade("ex6", "--target", str(target), "--seed", "5", "--lang", lang).report)
        features, generated = tests["ex6_sequence_tasks::final_features"], tests["ex6_sequence_tasks::generate"]
        assert features["status"] == "failed" and words[0] in features["hint"], features
        assert "alone" not in features["hint"] and "只返回了" not in features["hint"], features["hint"]
        assert generated["status"] == "failed" and words[1] in generated["hint"], generated
        assert "same first input" not in generated["hint"] and "同一个最初的输入" not in generated["hint"]
