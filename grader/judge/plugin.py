"""The judge's pytest plugin: fixtures and report hooks for the hidden suites.

The grader loads it with `-p grader.judge.plugin`, so the suites folder holds test
files only and nothing placed beside them can take its role. Each graded test
carries a `graded` marker (points and name). The hooks below copy that marker, the
hint of a failure and what the learner's code printed into the per-test `metadata`
of pytest-json-report, which is what the grader reads back. Each test has a deadline
that the judge enforces while it waits for the sandbox.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from grader import reaper, seal
from grader.runner import uses_cuda
from grader.judge.remote import Sandbox

# Processes the learner's code leaves orphaned become this process's children, to be killed at the end.
reaper.adopt_orphans()
# The sandbox starts first, so that its import of torch overlaps with the judge's own.
_DEVICE = os.environ.get("GRADER_DEVICE", "auto")
_ON_CUDA = uses_cuda(_DEVICE)
SANDBOX = Sandbox(Path(os.environ.get("GRADER_TARGET", "exercises")).resolve(),
                  int(os.environ.get("GRADER_MEMORY_MIB", "2048")),
                  limit_data=not _ON_CUDA,
                  workdir=os.path.dirname(os.environ.get("GRADER_PROGRESS", "")) or None,
                  device="cuda" if _ON_CUDA else "cpu",
                  confined=os.environ.get("GRADER_CONFINE", "auto") != "none")
SANDBOX.start()

import torch  # noqa: E402

from grader.judge import toolkit  # noqa: E402
from grader.judge.toolkit import TEST_TIME_LIMIT_S, Fail, Inputs, Settings, TestTimeout, settings_from_env  # noqa: E402

SETTINGS = settings_from_env()
toolkit.SESSION.sandbox, toolkit.SESSION.run_seed = SANDBOX, SETTINGS.seed

# The key that seals this process's report, read once the tests are collected and before any runs (the sandbox is
# up but has loaded nothing of the learner's yet). The grader may start a judge ahead of time (`runner.prime`, for
# --watch) and send the key only when it is to grade: the judge waits for it with its imports, its sandbox and its
# collection done, having read none of the learner's files.
# pytest points descriptor 0 at /dev/null while it captures, so the channel is kept aside first.
_KEY_CHANNEL = os.fdopen(os.dup(0), "rb", buffering=0) if os.environ.get("GRADER_MANIFEST") else None
_REPORT_KEY: list[bytes] = []


def report_key() -> bytes:
    if not _REPORT_KEY:
        _REPORT_KEY.append(seal.read_key(_KEY_CHANNEL) if _KEY_CHANNEL is not None else b"")
        if _KEY_CHANNEL is not None:
            _KEY_CHANNEL.close()
    return _REPORT_KEY[0]

# On CUDA, torch.nn's recurrent modules default to cuDNN, whose float32 math may use TF32
# (about 1e-3 off) and whose backward needs training mode. The judge's oracle uses PyTorch's
# native kernels instead, which compute exactly what the exercises ask for.
torch.backends.cudnn.enabled = False
PROGRESS_FILE = os.environ.get("GRADER_PROGRESS")
MANIFEST_FILE = os.environ.get("GRADER_MANIFEST")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start CUDA before the first test, so that no test's time limit pays for it."""
    if SETTINGS.device.type == "cuda":
        torch.zeros(1, device=SETTINGS.device).sum().item()


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    """Stop the sandbox, and all it started, before any report is written: nothing of the learner's runs on."""
    SANDBOX.close()
    reaper.kill_descendants()
    yield
    _EXIT_STATUS.append(int(session.exitstatus))


_EXIT_STATUS: list[int] = []


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The report is written: leave at once. Tearing down an interpreter that holds torch takes about a
    second, which every grading run would wait for."""
    if _EXIT_STATUS and MANIFEST_FILE:  # only as the grader's judge, not in a pytest run of one's own
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])


@pytest.fixture(scope="session")
def settings() -> Settings:
    return SETTINGS


@pytest.fixture
def make(request: pytest.FixtureRequest) -> Inputs:
    """Seeded inputs for this test (the seed, the test's id and nothing else decide them)."""
    return Inputs(SETTINGS, request.node.nodeid.split("::")[-1])


# --- per-test time limit: the judge's waits for the sandbox end at the test's deadline ---


_last_suite = {"file": ""}


def _stop_strays(item: pytest.Item) -> None:
    """Before another exercise's tests: kill whatever the learner's code left running (but the sandbox)."""
    suite = item.nodeid.split("::")[0]
    if _last_suite["file"] and _last_suite["file"] != suite:
        reaper.kill_descendants(keep=SANDBOX.own_pids())
    _last_suite["file"] = suite


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _stop_strays(item)
    toolkit.begin_test(item.nodeid)
    SANDBOX.abandon()  # the previous test ended in the middle of a call
    SANDBOX.take_output()
    SANDBOX.deadline = time.monotonic() + TEST_TIME_LIMIT_S
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    SANDBOX.deadline = time.monotonic() + TEST_TIME_LIMIT_S
    yield
    SANDBOX.deadline = None


# --- progress log: lets the grader tell which test was running if this process dies ---


def _log_progress(line: str) -> None:
    if PROGRESS_FILE:
        with open(PROGRESS_FILE, "a", encoding="utf-8") as log:
            log.write(line + "\n")


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _log_progress("start " + nodeid)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    _log_progress("end " + nodeid)


# --- what goes into the JSON report ------------------------------------------


def _verdict(error: BaseException) -> dict[str, str]:
    if isinstance(error, Fail):
        return {"hint_en": error.en, "hint_zh": error.zh, "verdict": error.status, "kind": error.kind,
                "mistake": error.mistake, **({"difference": error.difference} if error.difference else {})}
    if isinstance(error, TestTimeout):
        return {
            "hint_en": f"Timed out after {TEST_TIME_LIMIT_S:g} s: look for a loop that never ends.",
            "hint_zh": f"超过 {TEST_TIME_LIMIT_S:g} 秒未完成：检查是否有永不结束的循环。",
            "verdict": "timeout",
        }
    text = f"{type(error).__name__}: {str(error).strip()[:200]}"
    return {
        "hint_en": f"The check itself stopped with {text}; your result may be of an unexpected kind.",
        "hint_zh": f"检查过程因 {text} 而中止；你的返回值可能不是预期的类型。",
        "verdict": "error",
    }


def describe(item: pytest.Item) -> dict[str, Any]:
    """The graded test's identity: exercise, key, points and names."""
    marker = item.get_closest_marker("graded")
    if marker is None:
        raise pytest.UsageError(f"{item.nodeid} has no @graded marker")
    return {
        "exercise": Path(str(item.fspath)).stem.removeprefix("test_"),
        "key": item.name.removeprefix("test_"),
        "points": marker.kwargs["points"],
        "name_en": marker.kwargs["en"],
        "name_zh": marker.kwargs["zh"],
        "visibility": marker.kwargs.get("visibility", "visible"),
    }


def pytest_collection_finish(session: pytest.Session) -> None:
    """Write every collected test's identity, so the grader can name a test even if this process dies."""
    if MANIFEST_FILE:
        manifest = [{"nodeid": item.nodeid, **describe(item)} for item in session.items]
        Path(MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    report_key()


def pytest_json_runtest_metadata(item: pytest.Item, call: pytest.CallInfo) -> dict[str, Any]:
    meta: dict[str, Any] = describe(item) if call.when == "setup" else {}
    if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
        meta.update(_verdict(call.excinfo.value))
    if call.when == "teardown":
        output = SANDBOX.take_output()
        if output:
            meta["output"] = output
    return meta


def pytest_json_modifyreport(json_report: dict[str, Any]) -> None:
    json_report["grader"] = {
        "device": str(SETTINGS.device),
        "seed": SETTINGS.seed,
        "torch": torch.__version__,
        "sandbox_restarts": SANDBOX.restarts,
        "confinement": SANDBOX.confinement,
    }
    json_report["grader"]["seal"] = seal.sign(report_key(), json_report)
