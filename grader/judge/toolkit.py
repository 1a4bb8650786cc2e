"""The judge's toolkit for the hidden suites.

Everything a suite needs to grade one function lives here: loading the
learner's files, making seeded inputs, calling learner code so that whatever
it raises becomes a hint, running torch's reference, and comparing values
and gradients.  A failed comparison raises `Fail`, which carries the hint in
English and Chinese; the suites' conftest copies it into the JSON report.

Learner code never runs in this process: `load_module` hands out proxies
(`RemoteFunction`), and `call` / `expect_gradients` run them in the sandbox
process (`_remote`, `_sandbox`), which sends back plain tensors and values.
"""
from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import torch

from grader.judge import attribution, diagnose
from grader.judge import forbidden
from grader.judge import overflow
from grader.judge.tolerance import allowed_error, close, tolerance  # noqa: F401 - the suites import them from here
from grader.judge.remote import (Opaque, RemoteFunction, Sandbox, SandboxFault, TestTimeout, call_seed, decode_result,
                                 encode_argument)
from grader.sandbox.guards import Violation

# --------------------------------------------------------------------------
# Failures and hints
# --------------------------------------------------------------------------


class Fail(AssertionError):
    """A test failure whose message is a hint for the learner, in two languages.

    `kind` says what sort of mistake it is, for ranking where to look first: "runs" (the code
    does not run as it must), "shape" (structure, shape, dtype, device), "named" (a diagnosed
    mistake, `mistake` its key), "values", "gradients"; "todo" is not a mistake: not written yet.
    """

    def __init__(self, en: str, zh: str, status: str = "failed", kind: str = "runs", mistake: str = "",
                 difference: dict[str, Any] | None = None):
        super().__init__(en)
        self.en = en
        self.zh = zh
        self.status = status
        self.kind = kind
        self.mistake = mistake
        self.difference = difference  # a wrong value: where, and the numbers around it (see `difference`)


@dataclass(frozen=True)
class Text:
    """A phrase in both languages."""

    en: str
    zh: str


def graded(points: float, en: str, zh: str, visibility: str = "visible") -> Any:
    """Marks a test as graded: its points, its name in both languages, and whether learners see it before
    grades are published ("visible") or only after ("hidden": Gradescope's after_published)."""
    return pytest.mark.graded(points=points, en=en, zh=zh, visibility=visibility)


# --------------------------------------------------------------------------
# Run settings (set by the grader through the environment)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    target: Path
    seed: int
    device: torch.device


TARGET = Path("exercises")
TEST_TIME_LIMIT_S = 10.0
MEMORY_LIMIT_MIB = 2048


def read_environment() -> None:
    """The run's settings, from the environment the grader gives the judge. Read when this module is imported, and
    again by a judge forked from batch's warm process, which imported it before there was a run."""
    global TARGET, TEST_TIME_LIMIT_S, MEMORY_LIMIT_MIB
    TARGET = Path(os.environ.get("GRADER_TARGET", "exercises")).resolve()
    TEST_TIME_LIMIT_S = float(os.environ.get("GRADER_TEST_TIMEOUT", "10"))
    MEMORY_LIMIT_MIB = int(os.environ.get("GRADER_MEMORY_MIB", "2048"))


read_environment()


def settings_from_env() -> Settings:
    seed = int(os.environ.get("GRADER_SEED", "0"))
    wanted = os.environ.get("GRADER_DEVICE", "auto")
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    return Settings(target=TARGET, seed=seed, device=torch.device(wanted))


# --------------------------------------------------------------------------
# Loading learner files
# --------------------------------------------------------------------------

PACKAGE = "submission"


@dataclass
class Session:
    """The sandbox, and which test is running (learner calls are seeded per test and per call)."""

    sandbox: Sandbox | None = None
    run_seed: int = 0
    test_id: str = ""
    calls: int = 0

    def next_seed(self) -> int:
        self.calls += 1
        return call_seed(self.run_seed, self.test_id, self.calls)


SESSION = Session()
_LOADS: dict[tuple[str, str], dict[str, Any]] = {}  # (package, stem) -> the request that loads it
_LOADED: dict[tuple[str, str], "LearnerModule | Fail"] = {}
_SOURCES: dict[tuple[str, str], Path] = {}  # (package, stem) -> the learner's file it was loaded from
_NAMES_USED: dict[tuple[str, str], dict[str, frozenset[str]]] = {}  # (package, stem) -> attribution.names_used


def begin_test(test_id: str) -> None:
    SESSION.test_id, SESSION.calls = test_id, 0


def _import_error_hint(filename: str, error: dict[str, Any]) -> Fail:
    if error["kind"] == "syntax":
        line = error["line"] or "?"
        return Fail(
            f"{filename} has a syntax error at line {line}: {error['message']}. Fix it so the file can be imported.",
            f"{filename} 在第 {line} 行有语法错误：{error['message']}。请先修正，使文件可以被导入。",
        )
    where = _where(error)
    return Fail(
        f"{filename} could not be imported: {error['type']}: {error['message']}{where.en}.",
        f"{filename} 无法导入：{error['type']}: {error['message']}{where.zh}。",
    )


ALLOWED_IMPORTS_TEXT = Text("torch, numpy, math, typing, dataclasses, functools, itertools, collections, numbers, "
                            "warnings, abc, enum and the exercise files",
                            "torch、numpy、math、typing、dataclasses、functools、itertools、collections、numbers、"
                            "warnings、abc、enum 以及各练习文件")


def _what_zh(what: str) -> str:
    """The allowlist's phrases in Chinese ('import os', 'exec', 'torch.ops' stay as they are)."""
    if what.startswith("the private attribute "):
        return "私有属性 " + what.removeprefix("the private attribute ")
    if what.endswith(" with a computed name"):
        return "名称由计算得出的 " + what.removesuffix(" with a computed name")
    return what


def forbidden_hint(label: str, violation: Violation) -> Fail:
    where = f" ({violation.file}, line {violation.line})" if violation.line else ""
    where_zh = f"（{violation.file} 第 {violation.line} 行）" if violation.line else ""
    if violation.kind == "allowlist":
        return _allowlist_hint(label, violation, where, where_zh)
    return Fail(
        f"{label} uses {violation.what}{where}: PyTorch's own implementation of what this exercise asks you "
        "to write (or the reference solution), so it earns no credit. Use plain tensor operations.",
        f"{label} 使用了 {violation.what}{where_zh}：这是本练习要你自己实现的 PyTorch 内置实现（或参考答案），"
        "因此不得分。请只用基本的张量运算。",
    )


def _allowlist_hint(label: str, violation: Violation, where: str, where_zh: str) -> Fail:
    what = violation.what
    if what.startswith(("import ", "from ")):
        rule = Text(f"the exercises may import only {ALLOWED_IMPORTS_TEXT.en}",
                    f"练习中只能导入 {ALLOWED_IMPORTS_TEXT.zh}")
    else:
        rule = Text("the exercises do not allow it (nor exec, eval, open, getattr with a computed name or "
                    "private attributes)",
                    "练习中不允许这样做（也不允许 exec、eval、open、名称由计算得出的 getattr 或私有属性）")
    ready_made = Text(" modules.py is ready-made: put back the original.", "modules.py 是现成的：请恢复原文件。") \
        if violation.file == "modules.py" else Text("", "")
    return Fail(
        f"{label} uses {what}{where}: {rule.en}; the grader refuses anything that could reach the file system, "
        f"other processes or the grader itself, so it does not run this code. Remove it.{ready_made.en}",
        f"{label} 使用了 {_what_zh(what)}{where_zh}：{rule.zh}；评测程序拒绝一切可能访问文件系统、其他进程或评测程序"
        f"本身的代码，因此不会运行它。请删除。{ready_made.zh}",
    )


def _refuse(label: str, violation: Violation) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise forbidden_hint(label, violation)
    return refused


class LearnerModule:
    """A learner file loaded in the sandbox: its functions and classes as `RemoteFunction`s."""

    def __init__(self, filename: str, package: str, stem: str, names: list[str],
                 refused: dict[str, Violation]):
        self._filename, self._package, self._stem = filename, package, stem
        self._names, self._refused = set(names), refused

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._refused:
            return _refuse(name, self._refused[name])
        if name not in self._names:
            raise Fail(
                f"{self._filename} has no function or class `{name}`; keep the names and signatures of the stub.",
                f"{self._filename} 中没有函数或类 `{name}`；请保留练习模板中的名称和签名。",
            )
        return RemoteFunction(self._package, self._stem, name)


def _sandbox() -> Sandbox:
    if SESSION.sandbox is None:
        raise RuntimeError("the sandbox was not started")
    return SESSION.sandbox


def load_module(settings: Settings, stem: str, package: str = PACKAGE, stand_ins: str | None = None) -> LearnerModule:
    """Load `stem`.py from the target folder in the sandbox, as `package.stem`.

    A function that calls a forbidden built-in is replaced by one that fails with a
    hint; a file that uses one outside its functions (or imports the solutions) is not
    loaded at all. `stand_ins` names a set of replacement sibling modules the sandbox
    provides (for example torch-based cells in place of the learner's), so that a
    relative import inside the file picks those up instead of the learner's own.
    A file that cannot be loaded fails every test that needs it, and is tried once.
    """
    key = (package, stem)
    if key not in _LOADED:
        try:
            _LOADED[key] = _load(settings, package, stem, stand_ins)
        except Fail as failure:
            _LOADED[key] = failure
    loaded = _LOADED[key]
    if isinstance(loaded, Fail):
        raise loaded
    return loaded


def _load(settings: Settings, package: str, stem: str, stand_ins: str | None) -> LearnerModule:
    filename = f"{stem}.py"
    path = settings.target / filename
    if not path.is_file():
        raise Fail(
            f"{filename} was not found in {settings.target}.",
            f"在 {settings.target} 中找不到 {filename}。",
        )
    try:
        violations = forbidden.scan(path)
    except (SyntaxError, ValueError, UnicodeDecodeError):
        violations = {}  # the import in the sandbox reports it
    if "" in violations:
        raise forbidden_hint(filename, violations[""][0])
    refused = {name: found[0] for name, found in violations.items()}
    _SOURCES[(package, stem)] = path
    request = {"op": "load", "package": package, "stem": stem, "stand_ins": stand_ins,
               "refuse": {name: (v.what, v.file, v.line, v.kind) for name, v in refused.items()}}
    _LOADS[(package, stem)] = request
    try:
        reply = _sandbox().request(request)
    except SandboxFault as fault:
        raise Fail(f"{filename}: while it was being imported, {fault.en}.",
                   f"{filename}：在导入时，{fault.zh}。", status="error") from None
    except TestTimeout:
        raise Fail(f"Importing {filename} timed out after {TEST_TIME_LIMIT_S:g} s: look for a loop that never "
                   "ends outside your functions.",
                   f"导入 {filename} 超过 {TEST_TIME_LIMIT_S:g} 秒仍未完成：检查函数之外是否有永不结束的循环。",
                   status="timeout") from None
    if reply["violations"]:
        raise forbidden_hint(filename, Violation(*reply["violations"][0]))
    if not reply["ok"]:
        raise _import_error_hint(filename, reply["error"])
    _NAMES_USED[(package, stem)] = attribution.names_used(path)
    return LearnerModule(filename, package, stem, list(reply["names"]), refused)


# --------------------------------------------------------------------------
# Calling learner code
# --------------------------------------------------------------------------


def _short(error: BaseException, limit: int = 200) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(error: dict[str, Any]) -> Text:
    """' (ex3_lstm.py, line 42)' for the innermost traceback frame in the learner's folder."""
    if not error.get("file"):
        return Text("", "")
    return Text(f" ({error['file']}, line {error['line']})", f"（{error['file']} 第 {error['line']} 行）")


def _learner_error_hint(label: str, error: dict[str, Any]) -> Fail:
    kind, where = error["kind"], _where(error)
    if kind == "not_implemented":
        return Fail(
            f"{label} is not implemented yet: replace `raise NotImplementedError` with your code.",
            f"{label} 还没有实现：请把 `raise NotImplementedError` 换成你的代码。",
            kind="todo",
        )
    if kind == "system_exit":
        return Fail(
            f"{label} called sys.exit()/exit(); a function must return its result instead.",
            f"{label} 调用了 sys.exit()/exit()；函数应当返回结果，而不是退出程序。",
        )
    if kind == "memory":
        return Fail(
            f"{label} ran out of memory: {error['message']}{where.en}. The tensors here are small; look for one "
            "that grows without bound.",
            f"{label} 内存不足：{error['message']}{where.zh}。这里的张量都很小；检查是否有无限增长的张量。",
        )
    if kind == "build":
        return Fail(
            f"{label} could not be built with torch.nn's arguments and state_dict: {error['type']}: "
            f"{error['message']}{where.en}.",
            f"无法用 torch.nn 的参数和 state_dict 创建 {label}：{error['type']}: {error['message']}{where.zh}。",
        )
    if kind == "syntax":
        return _import_error_hint(label, error)
    shapes = _module_shape_error(error["message"]) if label in MODULE_FUNCTIONS else _shape_error(error["message"])
    return Fail(
        f"{label} raised {error['type']}: {error['message']}{where.en}.{shapes.en}",
        f"{label} 抛出了 {error['type']}: {error['message']}{where.zh}。{shapes.zh}",
        kind="shape" if shapes.en else "runs",
    )


# Exercise 6's functions are handed torch.nn modules, not weight matrices: their shape errors get their own note.
MODULE_FUNCTIONS = frozenset({"tag_steps", "final_features", "classify_sequence", "generate", "shift_right", "seq2seq"})


def _module_shape_error(message: str) -> Text:
    """What a shape error from torch means in exercise 6 (nothing for other errors)."""
    if "cannot be multiplied" in message or "must match the size of tensor" in message:
        return Text(
            " The shapes do not fit: check each tensor against the docstring. The head takes D*H features in "
            "tag_steps and classify_sequence, H after a decoder; a recurrent module reads (T, B, features), so one "
            "step is a (1, B, E) sequence.",
            "形状对不上：请对照文档检查每个张量。tag_steps 和 classify_sequence 中 head 的输入是 D*H 维，解码器之后是 "
            "H 维；循环模块读入 (T, B, 特征) 的序列，所以单独一步是形状为 (1, B, E) 的序列。")
    if "hidden" in message.lower() and "expected" in message.lower():
        return Text(
            " The initial state does not fit the module: it is (L*D, B, H), or the tuple (h_0, c_0) for an LSTM, "
            "in the same structure the module returns its final state.",
            "初始状态与模块不匹配：它的形状是 (L*D, B, H)，LSTM 则是元组 (h_0, c_0)，与模块返回的最终状态结构相同。")
    return Text("", "")


def _shape_error(message: str) -> Text:
    """What a shape error from torch means here (nothing for other errors)."""
    if "cannot be multiplied" in message:
        return Text(
            " The sizes in a matrix product do not fit: the weights have torch.nn's shapes, weight_ih (G*H, I) "
            "and weight_hh (G*H, H), so the products are x @ weight_ih.T (B, G*H) and h @ weight_hh.T (B, G*H).",
            "矩阵乘法的尺寸对不上：权重是 torch.nn 的形状，weight_ih 为 (G*H, I)、weight_hh 为 (G*H, H)，"
            "所以应写 x @ weight_ih.T (B, G*H) 和 h @ weight_hh.T (B, G*H)。")
    if "must match the size of tensor" in message:
        return Text(
            " Two tensors of different shapes were combined elementwise: every term of a cell's sum is (B, G*H) "
            "(one gate block (B, H) after chunk), and a bias (G*H,) broadcasts over the batch.",
            "两个形状不同的张量做了逐元素运算：单元中相加的每一项都是 (B, G*H)（chunk 之后每个门是 (B, H)），"
            "偏置 (G*H,) 会沿批次广播。")
    return Text("", "")


@dataclass
class Reply:
    """What a learner call gave back: its result and, when asked for, gradients."""

    result: Any
    error: dict[str, Any] | None = None
    has_grad: list[bool] | None = None
    grads: list[torch.Tensor | None] | None = None
    backward_error: str | None = None
    modified: tuple[int, ...] | None = None  # the shape of an input the call changed in place (when deferred)


# Learner functions that ran past a test's time limit: later calls fail at once, so one endless
# loop costs one time limit per function, not one per test that calls it.
_TIMED_OUT: set[tuple[str, str, str]] = set()


def _timed_out_before(label: str) -> Fail:
    return Fail(
        f"{label} timed out in an earlier check (after {TEST_TIME_LIMIT_S:g} s), so it was not run again: look for "
        "a loop that never ends.",
        f"{label} 在之前的检查中已超时（{TEST_TIME_LIMIT_S:g} 秒），因此不再运行：检查是否有永不结束的循环。",
        status="timeout")


class Pending:
    """A learner call under way in the sandbox; `reply()` waits for it and turns faults into Fails."""

    def __init__(self, label: str, expect_error: bool, done: Reply | None = None,
                 key: tuple[str, str, str] | None = None, defer_in_place: bool = False):
        self.label, self.expect_error, self.done, self.key = label, expect_error, done, key
        self.defer_in_place = defer_in_place  # a changed input goes in Reply.modified, for the value check to tell

    def reply(self) -> Reply:
        if self.done is None:
            self.done = self._interpret(self._receive())
        return self.done

    def _receive(self) -> dict[str, Any]:
        try:
            return _sandbox().receive()
        except SandboxFault as fault:
            raise Fail(f"{self.label}: {fault.en}.", f"{self.label}：{fault.zh}。", status="error") from None
        except TestTimeout:
            if self.key is not None:
                _TIMED_OUT.add(self.key)
            raise

    def _interpret(self, reply: dict[str, Any]) -> Reply:
        label = self.label
        if reply["violations"]:  # a forbidden use counts even when the learner's code caught the error
            raise forbidden_hint(label, Violation(*reply["violations"][0]))
        if not reply["ok"]:
            if self.expect_error and reply["error"]["kind"] not in ("not_implemented", "system_exit", "memory"):
                return Reply(None, error=reply["error"])
            raise _learner_error_hint(label, reply["error"])
        modified = tuple(reply["modified"][0]) if reply["modified"] else None
        if modified is not None and not self.defer_in_place:
            raise in_place_hint(label, modified)
        return Reply(decode_result(reply["result"]), None, reply.get("has_grad"), reply.get("grads"),
                     reply.get("backward_error"), modified)


def in_place_hint(label: str, shape: tuple[int, ...]) -> Fail:
    return Fail(
        f"{label} changed one of its input tensors in place (shape {shape}); "
        "compute new tensors instead of writing into the inputs.",
        f"{label} 原地修改了某个输入张量（形状 {shape}）；请生成新的张量，不要改写输入。",
    )


def start(label: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
          cotangents: list[torch.Tensor] | None = None, grad_paths: list[tuple[int, ...]] | None = None,
          expect_error: bool = False, defer_in_place: bool = False) -> Pending:
    """Start learner function `fn` in the sandbox; the Pending's reply() gives its result.

    A crash, a forbidden call or a changed input becomes a Fail; so does an exception
    raised by the learner's code, unless `expect_error` (then it is in `Reply.error`).
    With `defer_in_place`, a changed input is only noted (`Reply.modified`): the caller
    checks the values first and tells both (see `expect_outputs`).
    """
    if not isinstance(fn, RemoteFunction):  # a judge-side function: a refusal that raises its hint
        return Pending(label, expect_error, Reply(fn(*args, **kwargs)))
    key = (fn.package, fn.stem, fn.name)
    if key in _TIMED_OUT:
        raise _timed_out_before(label)
    message = {
        "op": "call", "package": fn.package, "stem": fn.stem, "name": fn.name,
        "load": _LOADS[(fn.package, fn.stem)],
        "args": encode_argument(list(args)),
        "kwargs": encode_argument({**dict(fn.bound), **kwargs}),
        "seed": fn.seed if fn.seed is not None else SESSION.next_seed(),
        "build": fn.build, "cotangents": cotangents, "grad_paths": grad_paths or [],
        "torch_helpers": list(fn.torch_helpers),
    }
    try:
        _sandbox().send(message)
    except SandboxFault as fault:
        raise Fail(f"{label}: {fault.en}.", f"{label}：{fault.zh}。", status="error") from None
    return Pending(label, expect_error, key=key, defer_in_place=defer_in_place)


def invoke(label: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], expect_error: bool = False,
           defer_in_place: bool = False) -> Reply:
    """Run learner function `fn` in the sandbox and wait for it (see `start`)."""
    return start(label, fn, args, kwargs, expect_error=expect_error, defer_in_place=defer_in_place).reply()


def call(label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner function `fn` with these arguments; anything it raises becomes a Fail with a hint.

    Also checks that no tensor argument was modified in place.
    """
    return invoke(label, fn, args, kwargs).result


def raised(label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The exception learner function `fn` raised (type, message, file, line), or None if it returned."""
    return invoke(label, fn, args, kwargs, expect_error=True).error


def _tensors_in(tree: Any) -> Iterable[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, (list, tuple)):
        for item in tree:
            yield from _tensors_in(item)
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from _tensors_in(item)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One configuration a function is checked on."""

    T: int | None  # None for a single step (a cell)
    B: int
    I: int  # noqa: E741 - the notes' name for the input size
    H: int
    dtype: torch.dtype = torch.float64
    bias: bool = True
    extra: str | Text = ""  # a Text where the words differ by language

    def describe(self) -> Text:
        kind = "float64" if self.dtype == torch.float64 else "float32"
        bias_en = "with biases" if self.bias else "biases=None"
        bias_zh = "有偏置" if self.bias else "偏置为 None"
        sizes = f"B={self.B}, I={self.I}, H={self.H}" if self.T is None else f"T={self.T}, B={self.B}, I={self.I}, H={self.H}"
        extra = self.extra if isinstance(self.extra, Text) else Text(self.extra, self.extra)
        extra_en = f", {extra.en}" if extra.en else ""
        extra_zh = f"，{extra.zh}" if extra.zh else ""
        return Text(f"[{kind}, {bias_en}, {sizes}{extra_en}]", f"[{kind}，{bias_zh}，{sizes}{extra_zh}]")


# Sizes chosen so that swapped dimensions show up as shape errors: T, B, I, H all
# differ, and I differs from 2H (the input width of a bidirectional layer above).
SIZES = [(5, 3, 4, 6), (4, 2, 7, 3), (3, 1, 5, 2)]


def standard_cases(sequence: bool = True) -> list[Case]:
    """Three cases mixing float64/float32 and biases/None; `sequence=False` for a single step."""
    dtypes, bias_options = (torch.float64, torch.float32), (True, False)
    return [Case(T if sequence else None, B, I, H, dtypes[n % 2], bias_options[n % 2])
            for n, (T, B, I, H) in enumerate(SIZES)]  # noqa: E741


SATURATING_BIAS = 50.0  # b_ih = b_hh = ±50: pre-activations near ±100, past float32's exp overflow at 88.7


def saturating_case() -> Case:
    """One float32 step whose pre-activations all sit near ±100 (see `Inputs.saturating_weights`): every gate is
    saturated, torch's results are finite, and a tanh or sigmoid written with exp overflows."""
    return Case(None, 3, 4, 6, torch.float32, True,
                Text(f"saturating: b_ih = b_hh = ±{SATURATING_BIAS:g}, |pre-activation| about {2 * SATURATING_BIAS:g}",
                     f"饱和区：b_ih = b_hh = ±{SATURATING_BIAS:g}，激活前的值 |z| 约为 {2 * SATURATING_BIAS:g}"))


class Inputs:
    """Seeded random tensors, made on the CPU then moved, so every device sees the same numbers."""

    def __init__(self, settings: Settings, test_id: str):
        self.device = settings.device
        self.generator = torch.Generator().manual_seed(
            zlib.crc32(f"{settings.seed}:{test_id}:".encode()) & 0x7FFFFFFF
        )

    def randn(self, *shape: int, dtype: torch.dtype = torch.float64, scale: float = 1.0) -> torch.Tensor:
        values = torch.randn(shape, generator=self.generator, dtype=torch.float64) * scale
        return values.to(dtype=dtype, device=self.device)

    def uniform(self, *shape: int, low: float, high: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        values = torch.rand(shape, generator=self.generator, dtype=torch.float64) * (high - low) + low
        return values.to(dtype=dtype, device=self.device)

    def cell_weights(self, case: Case, gates: int, input_size: int | None = None) -> dict[str, torch.Tensor | None]:
        """weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,) or None."""
        I = case.I if input_size is None else input_size  # noqa: E741
        bound = 1.0 / math.sqrt(case.H)
        # Larger than torch's init so that every gate works away from its linear region.
        def w(*shape: int) -> torch.Tensor:
            return self.uniform(*shape, low=-3 * bound, high=3 * bound, dtype=case.dtype)
        return {
            "weight_ih": w(gates * case.H, I),
            "weight_hh": w(gates * case.H, case.H),
            "bias_ih": w(gates * case.H) if case.bias else None,
            "bias_hh": w(gates * case.H) if case.bias else None,
        }

    def saturating_weights(self, case: Case, gates: int) -> dict[str, torch.Tensor | None]:
        """`cell_weights` with b_ih = b_hh = ±SATURATING_BIAS, one random sign per unit, the same in both.

        The two biases never cancel, and x W_ihᵀ + h W_hhᵀ adds only a few units to their sum, so every
        pre-activation (the GRU's n too, whatever r is) keeps |z| ≥ SATURATING_BIAS - a few: all outputs are
        flat there, and rounding in another order cannot move them."""
        weights = self.cell_weights(case, gates)
        sign = torch.where(self.uniform(gates * case.H, low=-1.0, high=1.0, dtype=case.dtype) >= 0, 1.0, -1.0)
        bias = (sign * SATURATING_BIAS).to(dtype=case.dtype, device=self.device)
        return {**weights, "bias_ih": bias, "bias_hh": bias.clone()}


# --------------------------------------------------------------------------
# Outputs: structure, shape, dtype, device, values
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Out:
    """One expected output tensor: its name and what its dimensions mean, e.g. Out("h_n", "(L*D, B, H)")."""

    name: str
    dims: str = ""


Spec = Any  # an Out, or a tuple of Specs


def spec_text(spec: Spec) -> str:
    if isinstance(spec, Out):
        return spec.name
    return "(" + ", ".join(spec_text(s) for s in spec) + ")"


def unpack(label: str, got: Any, spec: Spec) -> list[torch.Tensor]:
    """Flatten `got` along `spec`, failing with a hint when the structure is wrong."""
    if isinstance(spec, Out):
        if isinstance(got, Opaque) and got.tensor_subclass:
            raise Fail(
                f"{label} returned a {got.type_name} for {spec.name}; return a plain torch.Tensor.",
                f"{label} 为 {spec.name} 返回了 {got.type_name}；请返回普通的 torch.Tensor。",
            )
        if not isinstance(got, torch.Tensor):
            raise Fail(
                f"{label} should return {spec.name} as a Tensor {spec.dims}, but returned {_type_name(got)}.",
                f"{label} 应当返回张量 {spec.name} {spec.dims}，实际返回了 {_type_name(got)}。",
            )
        return [got]
    if not isinstance(got, (tuple, list)) or len(got) != len(spec):
        what = _type_name(got) if not isinstance(got, (tuple, list)) else f"a {type(got).__name__} of length {len(got)}"
        raise Fail(
            f"{label} should return a tuple {spec_text(spec)}, but returned {what}.",
            f"{label} 应当返回元组 {spec_text(spec)}，实际返回了 {what}。",
        )
    flat: list[torch.Tensor] = []
    for item, sub in zip(got, spec):
        flat.extend(unpack(label, item, sub))
    return flat


def _type_name(value: Any) -> str:
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


def flat_outs(spec: Spec) -> list[Out]:
    if isinstance(spec, Out):
        return [spec]
    return [o for s in spec for o in flat_outs(s)]


def flatten(tree: Any) -> list[torch.Tensor]:
    return list(_tensors_in(tree))


@dataclass(frozen=True)
class Explain:
    """What the diagnoses need to know about a call: the learner function's name, its inputs, its options,
    torch's seed for it when the test fixed one, and (for probes) the learner function and torch's reference."""

    function: str
    inputs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    learner: Any = None
    reference: Callable[..., Any] | None = None
    seed: int | None = None


def explain_call(learner: Any, inputs: dict[str, Any], reference: Callable[..., Any] | None = None) -> Explain | None:
    """The Explain for calling `learner` (a RemoteFunction) with `inputs`; None for anything else."""
    if not isinstance(learner, RemoteFunction) or learner.build is not None:
        return None
    return Explain(learner.name, inputs, dict(learner.bound), learner, reference, learner.seed)


def _zeroed(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return torch.zeros_like(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_zeroed(v) for v in value)
    return value


def _probe(explain: Explain) -> Callable[[tuple[str, ...]], bool]:
    """Whether the learner's function agrees with torch once the named inputs are zero (probes run in the sandbox)."""
    def agrees(names: tuple[str, ...]) -> bool:
        if explain.reference is None or any(explain.inputs.get(name) is None for name in names):
            return False
        inputs = {k: _zeroed(v) if k in names else v for k, v in explain.inputs.items()}
        try:
            got = flatten(call(explain.function, explain.learner, *inputs.values()))
            want = flatten(explain.reference(*inputs.values()))
        except Fail:
            return False
        return len(got) == len(want) and all(
            g.shape == w.shape and g.dtype == w.dtype and bool(close(g, w).all())
            for g, w in zip(got, want))
    return agrees


# Called with the first differing index: (the named mistake or None, where the difference starts); called with
# None, for an output of the wrong shape: (the named mistake that changes the shape or None, None).
Diagnoser = Callable[[tuple[int, ...] | None], tuple["diagnose.Found | None", "diagnose.Found | None"]]


def _diagnoser(explain: Explain, got: list[torch.Tensor], want: list[torch.Tensor], index: int) -> Diagnoser:
    def run(first: tuple[int, ...] | None) -> tuple[diagnose.Found | None, diagnose.Found | None]:
        context = diagnose.Context(explain.function, explain.inputs, [g.detach() for g in got],
                                    [w.detach() for w in want], index, explain.options, explain.seed)
        if first is None:
            return diagnose.diagnose_shape(context), None
        return diagnose.diagnose(context, _probe(explain)), diagnose.locate(context, first)
    return run


def expect_close(label: str, name: str, dims: str, got: torch.Tensor, want: torch.Tensor,
                 case_text: Text, versus: str, diagnoser: Diagnoser | None = None,
                 scale: torch.Tensor | float | None = None, explain: Explain | None = None) -> None:
    """Shape, dtype, device, then values of one tensor; a value mismatch is diagnosed where possible.

    NaN or inf where torch's value is finite gets its own hint first (`explain`: the call, to read the learner's
    source and inputs for it). `scale`: the size of the terms behind each element, when the check knows it
    (see `allowed_error`)."""
    if tuple(got.shape) != tuple(want.shape):
        found = diagnoser(None)[0] if diagnoser else None
        if found is not None:
            raise Fail(
                f"{label}: {name} has shape {tuple(got.shape)}, expected {tuple(want.shape)} = {dims}: {found.en} "
                f"{case_text.en}",
                f"{label}：{name} 的形状是 {tuple(got.shape)}，应为 {tuple(want.shape)} = {dims}：{found.zh}"
                f"{case_text.zh}",
                kind="named", mistake=found.key,
            )
        raise Fail(
            f"{label}: {name} has shape {tuple(got.shape)}, expected {tuple(want.shape)} = {dims} {case_text.en}.",
            f"{label}：{name} 的形状是 {tuple(got.shape)}，应为 {tuple(want.shape)} = {dims} {case_text.zh}。",
            kind="shape",
        )
    if got.dtype != want.dtype:
        raise Fail(
            f"{label}: {name} has dtype {got.dtype}, expected {want.dtype} like the inputs {case_text.en}; "
            "create new tensors with the inputs' dtype (e.g. x.new_zeros(...) or torch.zeros_like(...)).",
            f"{label}：{name} 的 dtype 是 {got.dtype}，应与输入一致为 {want.dtype} {case_text.zh}；"
            "新建张量时请沿用输入的 dtype（如 x.new_zeros(...) 或 torch.zeros_like(...)）。",
            kind="shape",
        )
    if got.device != want.device:
        raise Fail(
            f"{label}: {name} is on {got.device}, expected {want.device} like the inputs; "
            "create new tensors on the inputs' device.",
            f"{label}：{name} 位于 {got.device}，应与输入同在 {want.device}；新建张量时请使用输入所在的设备。",
            kind="shape",
        )
    got_d, want_d = got.detach(), want.detach()
    ok = close(got_d, want_d, scale)
    if bool(ok.all()):
        return
    if bool(overflow.nonfinite(got_d, want_d).any()):
        raise _nonfinite_hint(label, name, got_d, want_d, case_text, versus, explain)
    diff = (got_d.double() - want_d.double()).abs()
    bad = ~ok
    first = tuple(int(i) for i in bad.nonzero()[0].tolist())
    worst = float(diff.nan_to_num(nan=float("inf")).max())
    found, where = diagnoser(first) if diagnoser else (None, None)
    where = where or diagnose.Found("", "", "")
    seen = difference(name, got_d, want_d, first, worst, where)
    if found is not None:
        raise Fail(
            f"{label}: {found.en} (Your {name} is off by up to {worst:.3g}.) {case_text.en}",
            f"{label}：{found.zh}（你的 {name} 最多相差 {worst:.3g}。）{case_text.zh}",
            kind="named", mistake=found.key, difference=seen,
        )
    where_en = f", {where.en.strip()}" if where.en else ""
    where_zh = f"，{where.zh}" if where.zh else ""
    raise Fail(
        f"{label}: {name} differs from {versus} by up to {worst:.3g} (first at index {first}{where_en}: got "
        f"{float(got_d[first]):.6g}, expected {float(want_d[first]):.6g}) {case_text.en}.",
        f"{label}：{name} 与 {versus} 的结果最多相差 {worst:.3g}（首个不同位置 {first}{where_zh}：得到 "
        f"{float(got_d[first]):.6g}，应为 {float(want_d[first]):.6g}）{case_text.zh}。",
        kind="values", difference=seen,
    )


DIFFERENCE_WINDOW = 8  # values shown around the first wrong one, along the last axis


def difference(name: str, got: torch.Tensor, want: torch.Tensor, first: tuple[int, ...], worst: float,
               where: diagnose.Found) -> dict[str, Any]:
    """For the report's expected-vs-got view: the first wrong element's index, and a few values of the learner's
    and of torch's result along the last axis around it (which unit of which step, gate or direction)."""
    if got.dim() == 0:
        start, got_row, want_row = 0, got.reshape(1), want.reshape(1)
    else:
        size = got.shape[-1]
        start = max(0, min(first[-1] - DIFFERENCE_WINDOW // 2, size - DIFFERENCE_WINDOW))
        got_row = got[first[:-1]][start:start + DIFFERENCE_WINDOW]
        want_row = want[first[:-1]][start:start + DIFFERENCE_WINDOW]
    return {"quantity": name, "index": list(first), "start": start, "worst": worst,
            "got": [float(f"{v:.6g}") for v in got_row.double().tolist()],
            "expected": [float(f"{v:.6g}") for v in want_row.double().tolist()],
            "where_en": where.en.strip(), "where_zh": where.zh.strip()}


def _nonfinite_hint(label: str, name: str, got: torch.Tensor, want: torch.Tensor, case_text: Text, versus: str,
                    explain: Explain | None) -> Fail:
    """NaN or inf in the learner's output where torch's is finite: where, at what inputs, and why if exp is used."""
    where = overflow.nonfinite(got, want)
    first = tuple(int(i) for i in where.nonzero()[0].tolist())
    count, total = int(where.sum()), where.numel()
    size = overflow.pre_activation_size(explain.inputs) if explain else None
    learner = explain.learner if explain is not None and isinstance(explain.learner, RemoteFunction) else None
    source = _SOURCES.get((learner.package, learner.stem)) if learner is not None else None
    exp = source is not None and overflow.uses_exp(source, learner.name)
    at, why = overflow.at_inputs(size), overflow.cause(exp, want.dtype)
    return Fail(
        f"{label}: your {name} has NaN or inf where {versus}'s is finite ({count} of {total} elements, first at "
        f"index {first}: got {float(got[first])}, expected {float(want[first]):.6g}){at[0]} {case_text.en}.{why[0]}",
        f"{label}：在 {versus} 的结果为有限值的位置，你的 {name} 出现了 NaN 或 inf（{total} 个元素中有 {count} 个，"
        f"首个位置 {first}：得到 {float(got[first])}，应为 {float(want[first]):.6g}）{at[1]}{case_text.zh}。{why[1]}",
        kind="named", mistake="exp_overflow" if exp else "non_finite",
    )


def expect_outputs(label: str, got: Any, want: Any, spec: Spec, case_text: Text, versus: str,
                   explain: Explain | None = None, scales: list[Any] | None = None,
                   diagnose: bool = True, modified: tuple[int, ...] | None = None) -> list[torch.Tensor]:
    """Check every output of `got` against `want` (same structure); returns the flat learner outputs.

    `scales`: one `scale` per flat output (see `allowed_error`); None: each tensor's own magnitude.
    `diagnose=False`: no named mistakes, for inputs the diagnoses do not model (saturated gates hide them).
    `modified`: the shape of an input the call changed in place (`Reply.modified`): a wrong output
    is told first, with the change added to its hint; right outputs get the in-place hint alone."""
    try:
        flat = _expect_outputs(label, got, want, spec, case_text, versus, explain, scales, diagnose)
    except Fail as failure:
        if modified is None:
            raise
        also = in_place_hint(label, modified)
        raise Fail(f"{failure.en} It also {also.en.removeprefix(label + ' ')}",
                   f"{failure.zh} 此外，它{also.zh.removeprefix(label + ' ')}",
                   failure.status, failure.kind, failure.mistake, failure.difference) from None
    if modified is not None:
        raise in_place_hint(label, modified)
    return flat


def _expect_outputs(label: str, got: Any, want: Any, spec: Spec, case_text: Text, versus: str,
                    explain: Explain | None, scales: list[Any] | None, diagnose: bool) -> list[torch.Tensor]:
    got_flat = unpack(label, got, spec)
    want_flat = flatten(want)
    for k, (out, g, w) in enumerate(zip(flat_outs(spec), got_flat, want_flat)):
        diagnoser = _diagnoser(explain, got_flat, want_flat, k) if explain and diagnose else None
        expect_close(label, out.name, out.dims, g, w, case_text, versus, diagnoser,
                     scales[k] if scales is not None else None, explain)
    return got_flat


# --------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------


def _fresh(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.is_floating_point())
    if isinstance(value, (list, tuple)):
        return type(value)(_fresh(v) for v in value)
    return value


def leaves(inputs: dict[str, Any]) -> dict[str, Any]:
    """Fresh leaf copies of the tensors in `inputs` (nested in lists and tuples too), with requires_grad."""
    return {name: _fresh(value) for name, value in inputs.items()}


def _grad_paths(inputs: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """(name, position in the argument list) of every tensor that needs a gradient; nested ones named `hx[1]`."""
    found = []

    def walk(name: str, path: tuple[int, ...], value: Any) -> None:
        if isinstance(value, torch.Tensor) and value.requires_grad:
            found.append((name, path))
        elif isinstance(value, (list, tuple)):
            for k, item in enumerate(value):
                walk(f"{name}[{k}]", path + (k,), item)

    for position, (name, value) in enumerate(inputs.items()):
        walk(name, (position,), value)
    return found


def _grad_targets(inputs: dict[str, Any]) -> list[tuple[str, torch.Tensor]]:
    """(name, leaf) for every tensor that needs a gradient; nested ones are named like `hx[1]`."""
    values = list(inputs.values())
    targets = []
    for name, (position, *inner) in _grad_paths(inputs):
        leaf = values[position]
        for index in inner:
            leaf = leaf[index]
        targets.append((name, leaf))
    return targets


def vjp(outputs: list[torch.Tensor], inputs: dict[str, Any], cotangents: list[torch.Tensor]) -> dict[str, torch.Tensor | None]:
    """Gradients of sum(output * cotangent) w.r.t. every leaf in `inputs` (None where none flows)."""
    targets = _grad_targets(inputs)
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if not pairs:
        return {name: None for name, _ in targets}
    grads = torch.autograd.grad(weighted_sum(pairs), [t for _, t in targets], allow_unused=True)
    return {name: g for (name, _), g in zip(targets, grads)}


def weighted_sum(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """sum(output * cotangent): its gradient is the vector-Jacobian product, bit for bit.

    Backpropagating one scalar, rather than passing the cotangents as grad_outputs, spares
    each process torch's first-time import of its symbolic-shape machinery (about 0.3 s).
    """
    return sum(((o * c).sum() for o, c in pairs), torch.zeros((), dtype=pairs[0][0].dtype, device=pairs[0][0].device))


def attributed(label: str, learner: Any, check: Callable[..., Any], case_text: Text) -> Any:
    """`check(learner)`; if it fails and the learner's function passes the same check with torch's version of a
    helper it calls (`attribution.CALLERS`), a hint that sends the learner to that helper instead (it comes
    before any diagnosis of the function itself). `check(fn, explained=False)` skips the diagnoses."""
    try:
        return check(learner)
    except Fail as failure:
        helper = _wrong_helper(learner, check, failure)
        if helper is None:
            raise
        todo = failure.kind == "todo"
        en, zh = attribution.blame(label, helper, todo)
        raise Fail(f"{en} {case_text.en}", f"{zh}{case_text.zh}", kind="todo" if todo else "named",
                   mistake="" if todo else f"helper:{helper}") from None


def _wrong_helper(learner: Any, check: Callable[..., Any], failure: Fail) -> str | None:
    """The helper whose torch version makes the learner's function pass `check`, if any; only helpers its code
    names are tried, and only after a plain failure (not a crash of the sandbox or a time limit)."""
    if failure.status != "failed" or not isinstance(learner, RemoteFunction):
        return None
    used = _NAMES_USED.get((learner.package, learner.stem), {})
    for helper in attribution.helpers_called(learner.name, used):
        try:
            check(learner.replacing(helper), explained=False)
        except Fail:
            continue
        return helper
    return None


def expect_component(label: str, learner: Callable[..., Any], reference: Callable[..., Any],
                     inputs: dict[str, Any], spec: Spec, index: int, case_text: Text, versus: str,
                     diagnose: bool = True) -> None:
    """Like expect_same, but only output number `index` is compared (after the whole structure is checked)."""
    pending = start(label, learner, tuple(inputs.values()), {})
    want = flatten(reference(*inputs.values()))
    got = unpack(label, pending.reply().result, spec)
    out = flat_outs(spec)[index]
    explain = explain_call(learner, inputs, reference)
    diagnoser = _diagnoser(explain, got, want, index) if explain and diagnose else None
    expect_close(label, out.name, out.dims, got[index], want[index], case_text, versus, diagnoser, explain=explain)


def expect_same(label: str, learner: Callable[..., Any], reference: Callable[..., Any],
                inputs: dict[str, Any], spec: Spec, case_text: Text, versus: str,
                scales: list[Any] | None = None, diagnose: bool = True) -> list[torch.Tensor]:
    """Call both with the inputs (positionally, in order) and compare every output (`scales`, `diagnose`: see
    `expect_outputs`). A failure caused by a helper the learner's function calls says so (`attributed`)."""
    def check(fn: Any, explained: bool = True) -> list[torch.Tensor]:
        pending = start(label, fn, tuple(inputs.values()), {}, defer_in_place=True)
        want = reference(*inputs.values())
        reply = pending.reply()
        return expect_outputs(label, reply.result, want, spec, case_text, versus,
                              explain_call(fn, inputs, reference) if explained else None, scales, diagnose,
                              reply.modified)
    return attributed(label, learner, check, case_text)


def expect_gradients(label: str, learner: Callable[..., Any], reference: Callable[..., Any],
                     inputs: dict[str, Any], spec: Spec, case_text: Text, versus: str,
                     make: Inputs, rename: Callable[[str], str] = lambda name: name) -> None:
    """Values, then gradients w.r.t. every tensor input, for random output cotangents.

    The learner's side is differentiated in the sandbox, with the same cotangents. A failure caused by a helper
    the learner's function calls says so (`attributed`).
    """
    def check(fn: Any, explained: bool = True) -> None:
        _expect_gradients(label, fn, reference, inputs, spec, case_text, versus, make, rename, explained)
    attributed(label, learner, check, case_text)


def _expect_gradients(label: str, learner: Callable[..., Any], reference: Callable[..., Any],
                      inputs: dict[str, Any], spec: Spec, case_text: Text, versus: str,
                      make: Inputs, rename: Callable[[str], str], explained: bool) -> None:
    ref_inputs = leaves(inputs)
    want = flatten(reference(*ref_inputs.values()))
    cotangents = [make.randn(*w.shape, dtype=w.dtype) for w in want]
    paths = _grad_paths(ref_inputs)
    pending = start(label, learner, tuple(inputs.values()), {}, cotangents=cotangents,
                    grad_paths=[path for _, path in paths])
    want_grads = vjp(want, ref_inputs, cotangents)
    reply = pending.reply()
    expect_outputs(label, reply.result, want, spec, case_text, versus,
                   explain_call(learner, inputs, reference) if explained else None)
    if not any(reply.has_grad or []):
        raise Fail(
            f"{label}: the outputs carry no gradient (no grad_fn) {case_text.en}; do not use .detach(), "
            ".data, .item(), numpy or torch.no_grad() inside the function.",
            f"{label}：输出没有梯度（没有 grad_fn）{case_text.zh}；函数里不要使用 .detach()、.data、.item()、"
            "numpy 或 torch.no_grad()。",
        )
    if reply.backward_error is not None or reply.grads is None:
        raise Fail(
            f"{label}: backpropagating through your result failed: {reply.backward_error} {case_text.en}. "
            "An in-place operation (+=, [..] =, .add_()) on a tensor autograd still needs is the usual cause.",
            f"{label}：对你的结果反向传播失败：{reply.backward_error} {case_text.zh}。常见原因是对 autograd 仍需要的张量"
            "做了原地操作（+=、[..] =、.add_()）。",
        )
    got_grads = dict(zip((name for name, _ in paths), reply.grads))
    for path, want_grad in want_grads.items():
        got_grad, name = got_grads.get(path), rename(path)
        if want_grad is None:
            continue
        if got_grad is None:
            raise Fail(
                f"{label}: no gradient reaches `{name}` {case_text.en}; it must take part in the computation "
                "without .detach(), .data or torch.no_grad().",
                f"{label}：梯度传不到 `{name}` {case_text.zh}；它必须参与计算，且不能使用 .detach()、.data 或 torch.no_grad()。",
            )
        try:
            expect_close(label, f"the gradient w.r.t. {name}", f"the shape of {name}", got_grad, want_grad,
                         case_text, versus + " (autograd)")
        except Fail as failure:
            raise Fail(failure.en + " Your outputs match, so the backward pass differs: look for .detach(), .data, "
                       "an in-place change or values computed outside torch on the way from the inputs to the outputs.",
                       failure.zh + " 你的输出值是对的，所以是反向传播不同：检查从输入到输出的路径上是否有 .detach()、"
                       ".data、原地修改，或在 torch 之外计算的值。", kind="gradients") from None
