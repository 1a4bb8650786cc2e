"""The judge's report is sealed with a key only the grader and the judge know.

The grader hands the judge a fresh random key on the judge's standard input (never
through the environment or the command line, which other processes can read); the judge
signs its report with it before writing the file, and the grader accepts the
file only if the seal matches. A report written by anything else (learner code
that outlived its own run, another submission's daemon during a batch) is
refused. Standard library only.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any, BinaryIO

KEY_BYTES = 32


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def read_key(stream: BinaryIO) -> bytes:
    """The key the grader wrote to the judge's standard input (empty when run without the grader)."""
    key = b""
    try:
        while len(key) < KEY_BYTES:
            part = stream.read(KEY_BYTES - len(key))
            if not part:
                break
            key += part
    except (OSError, ValueError):
        pass
    return key


def _content(report: dict[str, Any]) -> bytes:
    grader = {k: v for k, v in (report.get("grader") or {}).items() if k != "seal"}
    signed = {"exitcode": report.get("exitcode"), "tests": report.get("tests"), "grader": grader}
    return json.dumps(signed, sort_keys=True, default=str, ensure_ascii=True).encode("ascii")


def sign(key: bytes, report: dict[str, Any]) -> str:
    return hmac.new(key, _content(report), hashlib.sha256).hexdigest()


def verify(key: bytes, report: dict[str, Any]) -> bool:
    seal = (report.get("grader") or {}).get("seal")
    return isinstance(seal, str) and hmac.compare_digest(seal, sign(key, report))
