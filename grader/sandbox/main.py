"""The sandbox's request loop: load learner files, call their functions, send back plain values.

The judge (the pytest process running the hidden suites) sends requests over a pipe:
load a learner file, call one of its functions (optionally backpropagating given
cotangents, optionally with some of the file's helpers replaced by torch's versions for
that call only), build one of its modules and run it. Replies carry plain values only:
tensors, numbers, strings, tuples, lists and dicts, written by `wire.encode` and read
by the judge with `wire.decode`, which rebuilds exactly those types and runs no code, so
nothing the learner's code defines (a tensor subclass, an object with its own `__eq__`)
reaches the judge; requests come in the codec's faster form for the judge's own values
(`wire.encode_request`), each message framed by its length. Whatever learner code does
to this process (monkeypatching torch, exiting, crashing, looping, allocating) cannot
change a verdict: the judge compares the returned values with its own torch.nn, and
restarts this process after a fault.

Started through `start.py`, which sets the limits and the confinement first.
"""
from __future__ import annotations

import contextlib
import os
import sys
import importlib
import struct
import traceback
import types
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from grader.sandbox import given, guards, wire
from grader.sandbox.guards import ForbiddenCall, Violation

torch.backends.cudnn.enabled = False  # the same kernels as the judge's oracle

TARGET = Path(".")  # the submission's folder, set by `serve`
_HEADER = struct.Struct("<Q")


# --------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return wire.decode_request(_read_exactly(fd, size))  # the judge's request: its own values, a pickle


def _send(fd: int, reply: dict[str, Any]) -> None:
    payload = wire.encode(reply)  # TypeError, before anything is written, for what the codec does not carry
    os.write(fd, _HEADER.pack(len(payload)))
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


# --------------------------------------------------------------------------
# Loading learner files
# --------------------------------------------------------------------------

def _package(name: str) -> None:
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(TARGET)]
        package.__package__ = name
        sys.modules[name] = package


def _refuser(name: str, violation: Violation) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        guards.record(violation)
        raise ForbiddenCall(name)
    return refused


def _load(request: dict[str, Any]) -> dict[str, Any]:
    package, stem = request["package"], request["stem"]
    qualified = f"{package}.{stem}"
    if qualified not in sys.modules:
        _package(package)
        for sibling, functions in given.STAND_INS.get(request.get("stand_ins") or "", {}).items():
            module = types.ModuleType(f"{package}.{sibling}")
            module.__dict__.update(functions)
            sys.modules[f"{package}.{sibling}"] = module
        try:
            module = importlib.import_module(qualified)
        except BaseException:
            sys.modules.pop(qualified, None)
            raise
        for name, violation in request.get("refuse", {}).items():
            setattr(module, name, _refuser(name, Violation(*violation)))
    module = sys.modules[qualified]
    names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("__"))
    return {"names": names}


# --------------------------------------------------------------------------
# Arguments from the judge, results back to it
# --------------------------------------------------------------------------


def _decode(value: Any) -> Any:
    """Turn the judge's markers into live objects: torch's cells by name, modules from their spec."""
    if isinstance(value, dict) and "__cell__" in value:
        return given.CELLS[value["__cell__"]]
    if isinstance(value, dict) and "__cell_module__" in value:
        spec = value["__cell_module__"]
        kind = getattr(given, spec["class"])
        # Built in the weights' own dtype: a float32 detour would round float64 weights.
        cell = kind(spec["input_size"], spec["hidden_size"], bias=spec["bias"], device=spec["device"],
                    dtype=spec["dtype"], **spec.get("extra", {}))
        cell.load_state_dict(spec["state"])
        return cell
    if isinstance(value, dict) and "__module__" in value:
        spec = value["__module__"]
        module = given.MODULES[spec["class"]](**spec["arguments"], device=spec["device"], dtype=spec["dtype"])
        module.load_state_dict(spec["state"])
        return module
    if isinstance(value, tuple):
        return tuple(_decode(v) for v in value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def _encode(value: Any) -> Any:
    """Plain values only (exactly these types, as `wire` carries them); anything else is described by its type's
    name, a numpy scalar or an int subclass too."""
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor and not isinstance(value, torch.nn.Parameter):
            return {"__opaque__": type(value).__name__, "tensor_subclass": True}
        return value.detach().clone()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (tuple, list):
        return type(value)(_encode(v) for v in value)
    return {"__opaque__": type(value).__name__}


def _flat_tensors(tree: Any) -> list[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, (tuple, list)):
        return [t for item in tree for t in _flat_tensors(item)]
    return []


def _at(args: list[Any], path: tuple[int, ...]) -> Any:
    value: Any = args
    for index in path:
        value = value[index]
    return value


# --------------------------------------------------------------------------
# Running learner code
# --------------------------------------------------------------------------


def _learner_line(error: BaseException) -> tuple[str, int] | None:
    found = None
    for frame in traceback.extract_tb(error.__traceback__):
        try:
            if Path(frame.filename).resolve().parent == TARGET:
                found = (Path(frame.filename).name, frame.lineno or 0)
        except (OSError, ValueError):
            continue
    return found


def _describe_error(error: BaseException) -> dict[str, Any]:
    if isinstance(error, NotImplementedError):
        kind = "not_implemented"
    elif isinstance(error, SystemExit):
        kind = "system_exit"
    elif isinstance(error, MemoryError) or "can't allocate memory" in str(error) or "out of memory" in str(error):
        kind = "memory"
    elif isinstance(error, SyntaxError):
        kind = "syntax"
    else:
        kind = "exception"
    text = str(error).strip()
    where = _learner_line(error)
    described = {"kind": kind, "type": type(error).__name__, "message": text.splitlines()[0][:300] if text else "",
                 "file": where[0] if where else "", "line": where[1] if where else 0}
    if isinstance(error, SyntaxError):
        described.update(line=error.lineno or 0, message=str(error.msg))
    return described


def _target(request: dict[str, Any]) -> Callable[..., Any]:
    module = sys.modules[f"{request['package']}.{request['stem']}"]
    return getattr(module, request["name"])


def _build(request: dict[str, Any], build: dict[str, Any]) -> Any:
    cls = _target(request)
    try:
        instance = cls(*build["args"], **build["kwargs"])
        instance.to(device=build["device"], dtype=build["dtype"])
        if build.get("state") is not None:
            instance.load_state_dict(build["state"])
        instance.train(build.get("training", False))
    except BaseException as error:  # noqa: BLE001 - reported to the judge as a build failure
        raise _BuildFailed(error) from None
    return instance


@contextlib.contextmanager
def _replaced(request: dict[str, Any]) -> Iterator[None]:
    """The file's globals named in `torch_helpers` hold torch's helpers (`given.HELPERS`) during the call, then their
    own values again (whatever the call did to them): names come from the judge, the stand-ins from the grader."""
    module = sys.modules[f"{request['package']}.{request['stem']}"]
    stand_ins = {name: given.HELPERS[request["stem"]][name] for name in request.get("torch_helpers", ())}
    absent = object()
    saved = {name: module.__dict__.get(name, absent) for name in stand_ins}
    module.__dict__.update(stand_ins)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is absent:
                module.__dict__.pop(name, None)
            else:
                module.__dict__[name] = value


class _BuildFailed(Exception):
    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def _seed(seed: int) -> None:
    """torch.manual_seed(seed) as far as learner code can tell: the CPU generator, and CUDA's once started (the
    sandbox starts it before any request when grading on CUDA). torch.manual_seed itself also queues a seeding of
    every accelerator not started yet, with a formatted stack each time: a tenth of a millisecond per call."""
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)


def _call(request: dict[str, Any]) -> dict[str, Any]:
    if f"{request['package']}.{request['stem']}" not in sys.modules:  # a fresh sandbox after a fault
        _load(request["load"])
    args = _decode(request["args"])
    kwargs = _decode(request["kwargs"])
    if request.get("grad_paths"):
        for path in request["grad_paths"]:
            _at(args, path).requires_grad_(True)
    snapshot = [(t, t.detach().clone()) for t in _flat_tensors((args, list(kwargs.values())))]
    fn = _build(request, request["build"]) if request.get("build") else _target(request)
    _seed(request["seed"])
    with _replaced(request):
        result = fn(*args, **kwargs)
    reply: dict[str, Any] = {"result": _encode(result)}
    reply["modified"] = [list(before.shape) for t, before in snapshot
                         if t.shape != before.shape or not torch.equal(t.detach(), before)]
    cotangents = request.get("cotangents")
    if cotangents is not None:
        reply.update(_backward(_flat_tensors(result), args, request["grad_paths"], cotangents))
    return reply


def _backward(outputs: list[torch.Tensor], args: list[Any], paths: list[tuple[int, ...]],
              cotangents: list[torch.Tensor]) -> dict[str, Any]:
    """Gradients of sum(output * cotangent) w.r.t. the tensors at `paths` (None where none flows)."""
    found: dict[str, Any] = {"has_grad": [bool(o.requires_grad) for o in outputs], "grads": None,
                             "backward_error": None}
    if len(outputs) != len(cotangents) or any(o.shape != c.shape for o, c in zip(outputs, cotangents)):
        return found  # the judge reports the structure or shape first
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    leaves = [_at(args, path) for path in paths]
    if not pairs:
        found["grads"] = [None] * len(leaves)
        return found
    try:
        # One scalar, sum(output * cotangent), as the judge does: the same gradients, bit for bit.
        loss = sum(((o * c).sum() for o, c in pairs), torch.zeros((), dtype=pairs[0][0].dtype, device=pairs[0][0].device))
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    except RuntimeError as error:
        found["backward_error"] = str(error).strip().splitlines()[0][:300]
        return found
    found["grads"] = [None if g is None else g.detach().clone() for g in grads]
    return found


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - learner code may have replaced the streams
            pass


def handle(request: dict[str, Any]) -> dict[str, Any]:
    guards.take_log()
    try:
        reply = {"ok": True, **(_load(request) if request["op"] == "load" else _call(request))}
    except _BuildFailed as failed:
        reply = {"ok": False, "error": {**_describe_error(failed.error), "kind": "build"}}
    except BaseException as error:  # noqa: BLE001 - learner code may raise anything, SystemExit included
        reply = {"ok": False, "error": _describe_error(error)}
    reply["violations"] = [(v.what, v.file, v.line, v.kind) for v in guards.take_log()]
    _flush_output()
    return reply


def warm_up(device: str) -> None:
    """Let torch read what it reads on first use (the CPU's features, CUDA's devices) before the files close."""
    x = torch.ones(2, 2, device=device, requires_grad=True)
    torch.tanh(x @ x).sum().backward()


def serve(target: Path, request_fd: int, reply_fd: int, confinement: str) -> None:
    """Answer the judge's requests until it closes the channel."""
    global TARGET
    TARGET = target
    os.chdir(TARGET)
    guards.install_guards(TARGET)
    _send(reply_fd, {"ok": True, "ready": True, "torch": str(torch.__version__), "confinement": confinement})
    while True:
        try:
            request = _receive(request_fd)
        except EOFError:
            return
        reply = handle(request)
        try:
            _send(reply_fd, reply)
        except (TypeError, ValueError, RuntimeError) as error:
            _send(reply_fd, {"ok": False, "error": {"kind": "exception", "type": type(error).__name__,
                                                    "message": f"the result could not be sent back: {error}"[:300],
                                                    "file": "", "line": 0}, "violations": []})
