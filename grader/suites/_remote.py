"""The judge's side of the sandbox: start it, send it requests, read its replies safely.

Learner code runs only in the sandbox process (`_sandbox.py`). A reply is read
with `torch.load(weights_only=True)`, which admits plain tensors and Python
values and refuses everything else. A sandbox that exits, crashes, stops
answering or grows past its memory limit is killed and replaced before the next
request; the request that was running becomes a `SandboxFault`, which the judge
turns into a failed test with a hint.
"""
from __future__ import annotations

import io
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

SANDBOX_SCRIPT = Path(__file__).resolve().parent / "_sandbox.py"
_HEADER = struct.Struct("<Q")
_MAX_REPLY = 256 * 2**20
_POLL_S = 0.05
OUTPUT_LIMIT = 4000  # characters of learner output kept per test


class SandboxFault(Exception):
    """The sandbox died, stopped making sense or used too much memory while running a request."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en = en
        self.zh = zh


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Sandbox:
    """One sandbox process at a time, started on demand and replaced after a fault."""

    def __init__(self, target: Path, memory_mib: int, limit_data: bool, workdir: str | None = None):
        self.target = target
        self.memory_mib = memory_mib
        self.limit_data = limit_data  # also cap the data segment (not with CUDA); resident size is always watched
        self.process: subprocess.Popen | None = None
        self.ready = False
        # In the grader's working folder where there is one, so it goes with it even if this process is killed.
        self.output_file = tempfile.NamedTemporaryFile(prefix="rnn-sandbox-", suffix=".out", delete=False,
                                                       dir=workdir)
        self.output_offset = 0
        self.test_output: list[str] = []
        self.restarts = 0
        self.pending = False  # a request was sent and its reply not read yet

    # --- life cycle -------------------------------------------------------

    def start(self) -> None:
        if self.process is not None:
            return
        request_read, self.request_fd = os.pipe()
        self.reply_fd, reply_write = os.pipe()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_", "PYTEST_", "PYTHONPATH"))}
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, str(SANDBOX_SCRIPT), str(self.target), str(request_read), str(reply_write),
             str(self.memory_mib), "1" if self.limit_data else "0"],
            pass_fds=(request_read, reply_write), stdin=subprocess.DEVNULL, stdout=self.output_file,
            stderr=subprocess.STDOUT, env=env, cwd=str(self.target), start_new_session=True,
        )
        os.close(request_read)
        os.close(reply_write)
        self.ready = False

    def kill(self) -> int | None:
        """Stop the sandbox (and anything it started in its session); its exit status, if it had one."""
        process, self.process = self.process, None
        if process is None:
            return None
        code = process.poll()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        for fd in (self.request_fd, self.reply_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        return code if code is not None else process.returncode

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def close(self) -> None:
        self.kill()
        self.collect_output()
        self.output_file.close()
        try:
            os.unlink(self.output_file.name)
        except OSError:
            pass

    # --- requests ---------------------------------------------------------

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its reply; a fault kills the sandbox and raises SandboxFault."""
        self.send(message)
        return self.receive()

    def send(self, message: dict[str, Any]) -> None:
        """Send a request without waiting: the judge computes its reference while the sandbox works."""
        self.abandon()
        self.start()
        try:
            if not self.ready:
                self._receive()  # the sandbox's greeting, sent once torch is imported
                self.ready = True
            payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            os.write(self.request_fd, _HEADER.pack(len(payload)))
            view = memoryview(payload)
            while view:
                view = view[os.write(self.request_fd, view):]
        except SandboxFault:
            raise
        except BrokenPipeError:
            raise self._fault(None) from None
        except BaseException:
            self._restart_later()  # a time limit (or anything else) in the middle of a request
            raise
        self.pending = True

    def receive(self) -> dict[str, Any]:
        """The reply to the request sent last."""
        try:
            return self._receive()
        except SandboxFault:
            raise
        except BaseException:
            self._restart_later()
            raise
        finally:
            self.pending = False
            self.collect_output()

    def abandon(self) -> None:
        """Forget a request whose reply nobody will read (its test ended early): the sandbox is replaced."""
        if self.pending:
            self._restart_later()

    def _restart_later(self) -> None:
        self.kill()
        self.pending = False
        self.restarts += 1

    def _receive(self) -> dict[str, Any]:
        (size,) = _HEADER.unpack(self._read(_HEADER.size))
        if size > _MAX_REPLY:
            raise self._fault("reply")
        import torch  # here, so that starting the sandbox does not wait for the judge's own import

        try:
            reply = torch.load(io.BytesIO(self._read(size)), weights_only=True)
        except Exception:  # noqa: BLE001 - anything unreadable is the sandbox's fault, never the judge's
            raise self._fault("reply") from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise self._fault("reply")
        return reply

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            readable, _, _ = select.select([self.reply_fd], [], [], _POLL_S)
            if not readable:
                self._check_alive()
                self._check_memory()
                continue
            chunk = os.read(self.reply_fd, min(left, 1 << 20))
            if not chunk:
                raise self._fault(None)
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _check_alive(self) -> None:
        """A sandbox that died while something it started holds the pipe open gives no end-of-file."""
        if self.process is not None and self.process.poll() is not None:
            raise self._fault(None)

    def _check_memory(self) -> None:
        if self.process is None or self.memory_mib <= 0:
            return
        try:
            with open(f"/proc/{self.process.pid}/statm", encoding="ascii") as statm:
                resident_pages = int(statm.read().split()[1])
        except (OSError, ValueError, IndexError):
            return
        if resident_pages * os.sysconf("SC_PAGE_SIZE") > self.memory_mib * 2**20:
            raise self._fault("memory")

    def _fault(self, why: str | None) -> SandboxFault:
        code = self.kill()
        self.pending = False
        self.restarts += 1
        if why == "memory":
            return SandboxFault(
                f"your code used more than {self.memory_mib} MiB of memory during this test and was stopped",
                f"你的代码在此测试中使用的内存超过 {self.memory_mib} MiB，已被终止")
        if why == "reply":
            return SandboxFault(
                "the process running your code sent back something that is not plain tensors and values "
                "(does your code tamper with the grader?)",
                "运行你的代码的进程返回了不是普通张量和数值的内容（你的代码是否干扰了评测程序？）")
        if code is not None and code < 0:
            name = _signal_name(-code)
            return SandboxFault(
                f"the process running your code was killed by {name} during this test (a crash in native code, "
                "or too much memory)", f"运行你的代码的进程在此测试中被 {name} 终止（本地代码崩溃或内存过多）")
        return SandboxFault(
            f"the process running your code exited with code {code} during this test (does your code call "
            "os._exit or exit the interpreter?)",
            f"运行你的代码的进程在此测试中以退出码 {code} 结束（你的代码是否调用了 os._exit 或退出了解释器？）")

    # --- learner output ---------------------------------------------------

    def collect_output(self) -> None:
        try:
            with open(self.output_file.name, "rb") as produced:
                produced.seek(self.output_offset)
                data = produced.read(64 * 1024)
                self.output_offset = produced.seek(0, io.SEEK_END)
        except OSError:
            return
        if data:
            self.test_output.append(data.decode("utf-8", errors="replace"))

    def take_output(self) -> str:
        text = "".join(self.test_output)
        self.test_output.clear()
        return text[:OUTPUT_LIMIT] + ("\n[... more output cut ...]" if len(text) > OUTPUT_LIMIT else "")


# --------------------------------------------------------------------------
# What the judge holds instead of learner objects
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteFunction:
    """A function or class in a learner file, called in the sandbox.

    `bound` are keyword arguments added to every call, `seed` seeds torch's generator just
    before the call (dropout masks), and `build` turns a class into a module that is
    constructed, moved, loaded with a state_dict and then called (forward).
    """

    package: str
    stem: str
    name: str
    bound: tuple[tuple[str, Any], ...] = ()
    seed: int | None = None
    build: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return self.name if self.build is None else f"{self.stem}.{self.name}"

    def bind(self, seed: int | None = None, **kwargs: Any) -> "RemoteFunction":
        return RemoteFunction(self.package, self.stem, self.name, self.bound + tuple(kwargs.items()),
                              seed if seed is not None else self.seed, self.build)

    def built(self, *args: Any, dtype: torch.dtype, device: torch.device, state: dict[str, torch.Tensor] | None,
              training: bool = False, **kwargs: Any) -> "RemoteFunction":
        build = {"args": list(args), "kwargs": kwargs, "dtype": dtype, "device": device, "state": state,
                 "training": training}
        return RemoteFunction(self.package, self.stem, self.name, self.bound, self.seed, build)


@dataclass(frozen=True)
class Opaque:
    """Something learner code returned that is not a plain value: only its type's name crosses over."""

    type_name: str
    tensor_subclass: bool = False


def decode_result(value: Any) -> Any:
    if isinstance(value, dict) and "__opaque__" in value:
        return Opaque(str(value["__opaque__"]), bool(value.get("tensor_subclass")))
    if isinstance(value, tuple):
        return tuple(decode_result(v) for v in value)
    if isinstance(value, list):
        return [decode_result(v) for v in value]
    return value


def encode_argument(value: Any) -> Any:
    """The judge's objects as the sandbox rebuilds them: torch's cells by name, cell modules by spec."""
    import torch

    import _oracle as oracle

    if callable(value) and not isinstance(value, torch.nn.Module):
        for name, cell in oracle.CELLS.items():
            if value is cell:
                return {"__cell__": name}
        raise TypeError(f"cannot send {value!r} to the sandbox")
    if isinstance(value, torch.nn.RNNCellBase):
        weight = value.weight_ih
        extra = {"nonlinearity": value.nonlinearity} if hasattr(value, "nonlinearity") else {}
        return {"__cell_module__": {
            "class": type(value).__name__, "input_size": value.input_size, "hidden_size": value.hidden_size,
            "bias": value.bias, "extra": extra, "dtype": weight.dtype, "device": weight.device,
            "state": {k: v.detach() for k, v in value.state_dict().items()},
        }}
    if isinstance(value, tuple):
        return tuple(encode_argument(v) for v in value)
    if isinstance(value, list):
        return [encode_argument(v) for v in value]
    return value


def call_seed(run_seed: int, test_id: str, counter: int) -> int:
    """torch's seed in the sandbox before call number `counter` of a test: learner randomness is reproducible."""
    return zlib.crc32(f"{run_seed}:{test_id}:call{counter}".encode()) & 0x7FFFFFFF
