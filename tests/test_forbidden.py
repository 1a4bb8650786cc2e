"""Calling the PyTorch implementation an exercise asks for earns no credit, however it is spelled; and exercise
code may use only what the allowlist allows (no os, exec, computed getattr, private attributes, ...)."""
from __future__ import annotations

import keyword
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, exercise, grade, plant, results_by_id

sys.path.insert(0, str(REPO))
from grader.judge import forbidden  # noqa: E402
from grader.judge.toolkit import forbidden_hint  # noqa: E402
from grader.sandbox.guards import Violation  # noqa: E402

OFF = {"GRADER_ALLOWLIST": "off"}


def scan(tmp_path: Path, code: str, filename: str = "ex3_lstm.py", allowlist: bool | None = None) -> dict:
    path = tmp_path / filename
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return {name: [v.what for v in found] for name, found in forbidden.scan(path, allowlist).items()}


def line_of(path: Path, text: str) -> int:
    """The number of the last line of `path` that holds `text`."""
    return max(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


@pytest.mark.parametrize("code, flagged", [
    ("import torch\ndef f(x): return torch.nn.LSTMCell(3, 4)(x)", "torch.nn.LSTMCell(...)"),
    ("from torch import nn\ndef f(x): return nn.GRU(3, 4)(x)", "torch.nn.GRU(...)"),
    ("import torch.nn as tnn\ndef f(x): return tnn.RNN(3, 4)(x)", "torch.nn.RNN(...)"),
    ("from torch.nn import LSTM as L\ndef f(x): return L(3, 4)(x)", "torch.nn.LSTM(...)"),
    ("import torch\ndef f(x, h, a, b): return torch.rnn_tanh_cell(x, h, a, b)", "torch.rnn_tanh_cell"),
    ("import torch as t\ndef f(*a): return t.lstm_cell(*a)", "torch.lstm_cell"),
    ("import torch\ndef f(*a): return torch._VF.gru_cell(*a)", "torch._VF.gru_cell"),
    ("import torch\ndef f(*a): return getattr(torch, 'lstm')(*a)", "getattr(..., 'lstm')"),
    ("import torch\ndef f(g): return torch.nn.utils.clip_grad_norm_(g, 1.0)", None),  # allowed outside ex5
])
def test_static_scan_flags_the_function(tmp_path, code, flagged) -> None:
    found = scan(tmp_path, code)
    if flagged is None:
        assert found == {}
    else:
        assert flagged in found["f"]


@pytest.mark.parametrize("code", [
    "import torch\nfrom torch import nn\ndef f(cell): return isinstance(cell, nn.LSTMCell)",
    "def lstm_cell(x): return x\ndef f(x): return lstm_cell(x)",
    "import torch\ndef f(x, w): return torch.sigmoid(x @ w.T).chunk(4, 1)",
    "def f(self): return self.lstm(self.gru)",
])
def test_static_scan_allows_plain_code(tmp_path, code) -> None:
    assert scan(tmp_path, code) == {}


def test_clip_grad_norm_is_forbidden_in_ex5(tmp_path) -> None:
    found = scan(tmp_path, "import torch\ndef f(g): return torch.nn.utils.clip_grad_norm_(g, 1.0)", "ex5_vanishing.py")
    assert found == {"f": ["torch.nn.utils.clip_grad_norm_"]}


def test_module_level_import_of_solutions_taints_the_file(tmp_path) -> None:
    assert scan(tmp_path, "from solutions.ex3_lstm import lstm_cell\n") == {"": ["from solutions.ex3_lstm import ..."]}


# --- through the grader --------------------------------------------------------------------


def test_a_builtin_cell_costs_that_function_only(tmp_path) -> None:
    target = plant(tmp_path / "s", "ex3_lstm.py", """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    cell = torch.nn.LSTMCell(x.shape[1], weight_hh.shape[1], dtype=x.dtype)
    return torch.func.functional_call(cell, {"weight_ih": weight_ih, "weight_hh": weight_hh,
                                             "bias_ih": bias_ih, "bias_hh": bias_hh}, (x, state))
""")
    run = grade("ex3", "--target", str(target), "--seed", "3")
    tests = results_by_id(run.report)
    for key in ("cell_values", "cell_gradients"):
        assert "uses torch.nn.LSTMCell(...)" in tests[f"ex3_lstm::{key}"]["hint"]
        assert "earns no credit" in tests[f"ex3_lstm::{key}"]["hint"]
    assert run.report["score"] == 10  # the four gates and their gradients keep their points


def test_a_hidden_builtin_is_caught_at_run_time_even_if_the_error_is_swallowed(tmp_path) -> None:
    target = plant(tmp_path / "s", "ex4_gru.py", """
_right = gru_cell
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    kernel = getattr(torch, "gru" + "_cell")
    try:
        return kernel(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    except BaseException:
        return _right(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
""")
    run = grade("ex4", "--target", str(target), "--seed", "3", env=OFF)  # the allowlist would refuse the getattr
    hint = results_by_id(run.report)["ex4_gru::cell_values"]["hint"]
    assert "uses torch.gru_cell (ex4_gru.py, line" in hint
    assert exercise(run.report, "ex4_gru")["score"] == 9


def test_importing_the_solutions_gets_no_credit(tmp_path) -> None:
    target = plant(tmp_path / "s", "ex1_rnn_cell.py", "")
    (target / "ex1_rnn_cell.py").write_text("from solutions.ex1_rnn_cell import *\n", encoding="utf-8")
    (target / "ex5_vanishing.py").write_text(textwrap.dedent(f"""
        import importlib, sys
        def _load():
            sys.path.insert(0, {str(REPO)!r})
            return importlib.import_module("sol" + "utions.ex5_vanishing")
        def sigmoid_derivative(z): return _load().sigmoid_derivative(z)
        def chain_gradient(z, w): return _load().chain_gradient(z, w)
        def hidden_jacobian(h_seq, weight_hh): return _load().hidden_jacobian(h_seq, weight_hh)
        def gradient_norms(cell, x, state=None): return _load().gradient_norms(cell, x, state)
        def clip_grad_norm(grads, max_norm): return _load().clip_grad_norm(grads, max_norm)
    """), encoding="utf-8")
    run = grade("ex1", "ex4", "ex5", "--target", str(target), "--seed", "3", env=OFF)  # ex5's imports: the guard
    report = run.report
    assert exercise(report, "ex1_rnn_cell")["score"] == 0
    assert "from solutions.ex1_rnn_cell import ..." in results_by_id(report)["ex1_rnn_cell::cell_tanh"]["hint"]
    assert exercise(report, "ex5_vanishing")["score"] == 0
    assert "uses import solutions" in results_by_id(report)["ex5_vanishing::chain_gradient"]["hint"]
    assert exercise(report, "ex4_gru")["score"] == 20


def test_the_cell_given_to_gradient_norms_may_be_called(solutions_run) -> None:
    assert results_by_id(solutions_run.report)["ex5_vanishing::gradient_norms"]["status"] == "passed"


# --- the allowlist ---------------------------------------------------------------------------

# (code, the top-level name it refuses, "" for the whole file, and the finding that must be among them)
REFUSED = [
    ("import os", "", "import os"),
    ("import sys", "", "import sys"),
    ("import subprocess", "", "import subprocess"),
    ("import socket", "", "import socket"),
    ("import ctypes", "", "import ctypes"),
    ("import gc", "", "import gc"),
    ("import inspect", "", "import inspect"),
    ("import builtins", "", "import builtins"),
    ("import pickle", "", "import pickle"),
    ("import _thread", "", "import _thread"),
    ("from importlib import import_module", "", "from importlib import import_module"),
    ("from pathlib import Path", "", "from pathlib import Path"),
    ("import grader.judge.toolkit", "", "import grader.judge.toolkit"),
    ("import torch.utils.cpp_extension", "", "import torch.utils.cpp_extension"),
    ("from torch import _C", "", "from torch import _C"),
    ("from torch import ops", "", "from torch import ops"),
    ("from torch import *", "", "from torch import *"),
    ("from numpy import load", "", "from numpy import load"),
    ("from .helpers import x", "", "from .helpers import x"),
    ("from .. import ex1_rnn_cell", "", "from .. import ex1_rnn_cell"),
    ("def f():\n    import os\n    return os", "f", "import os"),
    ("import torch\ndef f(x): return getattr(torch, 'lst' + 'm')(x)", "f", "getattr with a computed name"),
    ("import torch\ndef f(x): return getattr(torch, f\"lst{'m'}\")(x)", "f", "getattr with a computed name"),
    ("import torch\ndef f(x, n): return getattr(torch, n)(x)", "f", "getattr with a computed name"),
    ("import torch\ndef f(): return getattr(torch, '_C')", "f", "getattr(..., '_C')"),
    ("def f(x): setattr(x, '__class__', int)", "f", "setattr(..., '__class__')"),
    ("def f(x): g = getattr\n", "f", "getattr"),
    ("def f(s): exec(s)", "f", "exec"),
    ("def f(s): return eval(s)", "f", "eval"),
    ("def f(s): return compile(s, 'ex1_rnn_cell.py', 'exec')", "f", "compile"),
    ("def f(): return __import__('os')", "f", "__import__"),
    ("def f(): return globals()['torch']", "f", "globals"),
    ("def f(x): return vars(x)", "f", "vars"),
    ("def f(): return open('/etc/passwd').read()", "f", "open"),
    ("def f(): return __builtins__", "f", "__builtins__"),
    ("def f(): return __loader__", "f", "__loader__"),
    ("import torch\ndef f(): return torch._C", "f", "the private attribute torch._C"),
    ("import torch\ndef f(*a): return torch._C._VariableFunctions.lstm(*a)", "f", "the private attribute torch._C"),
    ("import torch\ndef f(x): return torch.ops.aten.tanh(x)", "f", "torch.ops"),
    ("def f(g): return g.__wrapped__", "f", "the private attribute g.__wrapped__"),
    ("def f(x): return x.__class__.__subclasses__()", "f", "the private attribute x.__class__"),
    ("def f(obj): return obj.__dict__", "f", "the private attribute obj.__dict__"),
    ("import torch\ndef f(p): return torch.load(p)", "f", "torch.load"),
    ("import torch\ndef f(x, p): torch.save(x, p)", "f", "torch.save"),
    ("import torch\ndef f(x): return torch.jit.script(x)", "f", "torch.jit"),
    ("import torch\ndef f(x): return torch.compile(x)", "f", "torch.compile"),
    ("import torch\ndef f(): return torch.hub.list('x')", "f", "torch.hub"),
    ("import torch\ndef f(): return torch.library.Library('aten', 'IMPL')", "f", "torch.library"),
    ("import torch\ndef f(p): return torch.from_file(p)", "f", "torch.from_file"),
    ("import torch\ndef f(x): return torch.utils.data.DataLoader(x)", "f", "torch.utils"),
    ("import torch as t\ndef f(s): return t.utils.benchmark.Timer(s).timeit(1)", "f", "torch.utils"),
    ("import torch\ndef f(p): m = torch; return m.package.PackageImporter(p)", "f", "m.package"),
    ("import numpy as np\ndef f(p): return np.fromfile(p)", "f", "numpy.fromfile"),
    ("import numpy as np\ndef f(a, p): a.tofile(p)", "f", "a.tofile"),
    ("import torch\ndef f(): return torch.os.system('id')", "f", "torch.os"),
    ("import torch.nn.functional as F\ndef f(): return F.importlib", "f", "torch.nn.functional.importlib"),
    ("import dataclasses\ndef f(): return dataclasses.sys.modules", "f", "dataclasses.sys"),
    ("def f(gen): return gen.gi_frame.f_back.f_globals", "f", "gen.gi_frame"),
    ("import torch\ntorch.Tensor.__eq__ = lambda a, b: True", "", "the private attribute torch.Tensor.__eq__"),
    ("class C:\n    def m(self): return self._private", "C", "the private attribute self._private"),
    ("def f():\n    return open(0)\ndef g(open):\n    return open", "f", "open"),
    ("__name__ = '__main__'\nif __name__ == '__main__':\n    import os", "", "import os"),
    ("class M(type):\n    def __eq__(c, o): return True\nclass __name__(metaclass=M): pass\n"
     "if __name__ == '__main__':\n    import os", "", "import os"),
]


@pytest.mark.parametrize("code, name, what", REFUSED, ids=[r[2] + " | " + r[0][-30:] for r in REFUSED])
def test_the_allowlist_refuses(tmp_path, code, name, what) -> None:
    found = scan(tmp_path, code, allowlist=True)
    assert what in found.get(name, []), found
    path = tmp_path / "ex3_lstm.py"
    assert all(v.kind in ("allowlist", "builtin") and v.line >= 1 and v.file == "ex3_lstm.py"
               for vs in forbidden.scan(path, allowlist=True).values() for v in vs)


ALLOWED = [
    "import torch.nn.functional as F\ndef f(x): return F.relu(x)",
    "from typing import Callable, List, Optional, Sequence, Tuple, Union",
    "from __future__ import annotations",
    "import math\ndef f(x): return math.sqrt(x) * math.pi",
    "import torch\ndef f(x): return torch.tanh(x) + torch.sigmoid(x)",
    "import torch\ndef f(a, b): return torch.linalg.multi_dot([a, b]) + torch.einsum('ij,jk->ik', a, b)",
    "import numpy as np\ndef f(x): return np.linalg.norm(np.asarray(x))",
    "import functools, itertools, collections, numbers, warnings, abc, enum, dataclasses",
    "from torch import Tensor, nn\nfrom torch.func import jacrev\nfrom torch.autograd import grad",
    "import torch\nclass Cell(torch.nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
    "        self.w = torch.nn.Parameter(torch.zeros(n))\n    def forward(self, input):\n        return input @ self.w",
    "import torch\nclass T(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, func, types, args=(), kw=None):\n"
    "        return super().__torch_function__(func, types, args, kw or {})",
    "if __name__ == '__main__':\n    import sys\n    print(open(sys.argv[0]).read())",
    "from .ex1_rnn_cell import rnn_cell\nfrom . import ex3_lstm\nfrom .modules import LSTM",
    "from exercises.modules import LSTM\nimport exercises.ex1_rnn_cell",
    "def f(self, sfx, k):\n    return getattr(self, 'weight_ih' + sfx), getattr(self, f'bias_hh_l{k}'), getattr(self, 'bias')",
    "def f(x): return type(x).__name__, f.__doc__, x.__qualname__",
    "def f(input, compile=False, vars=()):\n    return input, compile, vars",
    "def f(x):\n    open = x\n    return open",
    "_right = len\ndef f(x): return _right(x)",
    "from dataclasses import dataclass\nimport torch\n@dataclass\nclass S:\n    h: torch.Tensor\n    c: torch.Tensor",
    "import torch\ndef f(x): return x.data.T.new_zeros(3).double().to(x.dtype)",
    "import torch\nfrom torch import nn\ndef f(p): return torch.nn.utils.parameters_to_vector(p), nn.utils.rnn",
    "import torch\ntorch.backends.cudnn.benchmark = False",
    "__all__ = ['f']\ndef f(x): return hasattr(x, 'shape') and isinstance(x, object)",
]


@pytest.mark.parametrize("code", ALLOWED)
def test_the_allowlist_allows(tmp_path, code) -> None:
    assert scan(tmp_path, code, allowlist=True) == {}


@pytest.mark.parametrize("folder", ["exercises", "solutions"])
def test_the_stubs_and_solutions_pass_the_scan(folder) -> None:
    for path in sorted((REPO / folder).glob("*.py")):
        assert forbidden.scan(path, allowlist=True) == {}, path


def test_the_ready_made_modules_is_recognised_and_an_edited_one_is_scanned(tmp_path) -> None:
    text = (REPO / "exercises" / "modules.py").read_text(encoding="utf-8")
    assert forbidden.READY_MADE["modules.py"] == forbidden.text_fingerprint(text), \
        "modules.py changed: put forbidden.text_fingerprint(its text) in forbidden.READY_MADE"
    (tmp_path / "modules.py").write_text(text.replace("\n", "\r\n"), encoding="utf-8")
    assert forbidden.scan(tmp_path / "modules.py", allowlist=True) == {}
    (tmp_path / "modules.py").write_text(text + "\nimport os\n", encoding="utf-8")
    found = forbidden.scan(tmp_path / "modules.py", allowlist=True)
    assert [v.what for v in found[""]] == ["import os"]
    assert "the private attribute self._num_gates" in [v.what for v in found["_RecurrentBase"]]
    assert "modules.py is ready-made" in forbidden_hint("modules.LSTM", found["_RecurrentBase"][0]).en


def test_the_switch_turns_off_the_allowlist_only(tmp_path, monkeypatch) -> None:
    code = "import os\nimport torch\ndef f(*a): return torch.lstm_cell(*a)\ndef g(): return os.getpid()"
    monkeypatch.delenv("GRADER_ALLOWLIST", raising=False)
    assert scan(tmp_path, code) == {"": ["import os"], "f": ["torch.lstm_cell"]}
    monkeypatch.setenv("GRADER_ALLOWLIST", "off")
    assert scan(tmp_path, code) == {"f": ["torch.lstm_cell"]}
    monkeypatch.setenv("GRADER_ALLOWLIST", "on")
    assert scan(tmp_path, code)[""] == ["import os"]


def test_the_denylist_finding_comes_first(tmp_path) -> None:
    found = scan(tmp_path, "import torch\ndef f(*a): return torch._VF.gru_cell(*a)", allowlist=True)
    assert found["f"][0] == "torch._VF.gru_cell"
    assert "the private attribute torch._VF" in found["f"]


def test_the_allowlist_hint_in_both_languages() -> None:
    hint = forbidden_hint("ex3_lstm.py", Violation("import os", "ex3_lstm.py", 3, "allowlist"))
    assert hint.en.startswith("ex3_lstm.py uses import os (ex3_lstm.py, line 3): the exercises may import only "
                              "torch, numpy, math, typing")
    assert "file system, other processes or the grader itself" in hint.en and "Remove it." in hint.en
    assert "earns no credit" not in hint.en and "PyTorch's own implementation" not in hint.en
    assert "ex3_lstm.py 使用了 import os（ex3_lstm.py 第 3 行）：练习中只能导入 torch、numpy" in hint.zh
    other = forbidden_hint("lstm_cell", Violation("getattr with a computed name", "ex3_lstm.py", 9, "allowlist"))
    assert other.en.startswith("lstm_cell uses getattr with a computed name (ex3_lstm.py, line 9): the exercises "
                               "do not allow it")
    assert "名称由计算得出的 getattr（ex3_lstm.py 第 9 行）" in other.zh and "请删除" in other.zh
    private = forbidden_hint("f", Violation("the private attribute torch._C", "ex1_rnn_cell.py", 5, "allowlist"))
    assert "私有属性 torch._C" in private.zh
    builtin = forbidden_hint("lstm_cell", Violation("torch.lstm_cell", "ex3_lstm.py", 9))
    assert "PyTorch's own implementation" in builtin.en and "earns no credit" in builtin.en


try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # not in requirements.txt: the property tests run where it is installed
    given = None

if given is not None:
    REFUSED_TARGETS = sorted(forbidden.RISKY_ATTRIBUTES | {"lstm", "lstm_cell", "gru_cell", "rnn_tanh", "LSTMCell",
                                                          "_C", "_VF", "__class__", "__globals__"})

    @settings(max_examples=60, deadline=None)
    @given(name=st.sampled_from(REFUSED_TARGETS), data=st.data())
    def test_any_split_of_a_refused_name_is_refused(tmp_path_factory, name, data) -> None:
        cut = data.draw(st.integers(1, len(name)))
        head, tail = name[:cut], name[cut:]
        spelling = data.draw(st.sampled_from([f"{head!r} + {tail!r}", f"f\"{head}{{{tail!r}}}\"",
                                              f"{head!r} + ''.join([{tail!r}])"]))
        found = scan(tmp_path_factory.mktemp("p"), f"import torch\ndef f(x): return getattr(torch, {spelling})",
                     allowlist=True)
        assert "getattr with a computed name" in found["f"], spelling

    @settings(max_examples=60, deadline=None)
    @given(module=st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(lambda m: not keyword.iskeyword(m)))
    def test_only_the_listed_modules_may_be_imported(tmp_path_factory, module) -> None:
        found = scan(tmp_path_factory.mktemp("p"), f"import {module}\n", allowlist=True)
        allowed = module in forbidden.ALLOWED_IMPORTS or module == forbidden.OWN_PACKAGE
        assert (found == {}) == allowed, (module, found)


# --- the allowlist through the grader ----------------------------------------------------------


def test_a_computed_getattr_costs_that_function_with_a_hint_naming_the_line(tmp_path) -> None:
    target = plant(tmp_path / "s", "ex3_lstm.py", """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    kernel = getattr(torch, "lst" + "m_cell")
    return kernel(x, tuple(state), weight_ih, weight_hh, bias_ih, bias_hh)
""")
    line = line_of(target / "ex3_lstm.py", "getattr(torch")
    run = grade("ex3", "ex4", "--target", str(target), "--seed", "3")
    tests = results_by_id(run.report)
    for key in ("cell_values", "cell_gradients"):
        hint = tests[f"ex3_lstm::{key}"]["hint"]
        assert tests[f"ex3_lstm::{key}"]["score"] == 0
        assert f"lstm_cell uses getattr with a computed name (ex3_lstm.py, line {line}): the exercises do not " \
               "allow it" in hint, hint
    assert exercise(run.report, "ex3_lstm")["score"] == 10  # the gates keep their points
    assert exercise(run.report, "ex4_gru")["score"] == 20
