#!/usr/bin/env python3
"""What one round trip on the judge <-> sandbox channel costs in CPU: the codec against the format before it.

    python benchmarks/wire.py [--repeat N]

Encodes and decodes a typical request (a cell's call: inputs, weights, a built module's state, cotangents)
and a typical reply (a dict with seven small float32 tensors, gradients and the bookkeeping lists), each
with `grader.sandbox.wire` as the channel now does (requests in its fast form, `encode_request` /
`decode_request`; replies in its bounded one, also shown for the request), and with the previous format:
requests pickled with torch's own tensor pickling (`pickle.dumps` / `pickle.loads`) and replies written
with `torch.save`, then checked as a zip archive, read with `torch.load(weights_only=True)` and walked for
bounds. Prints the median over N rounds of each step, in microseconds, and the milliseconds per round trip
(a request and its reply). One thread, in this process.
"""
from __future__ import annotations

import argparse
import io
import os
import pickle
import statistics
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from grader.judge import remote  # noqa: E402
from grader.sandbox import wire  # noqa: E402

torch.set_num_threads(1)


def typical_request() -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    load = {"op": "load", "package": "rnn_exercises", "stem": "ex3_lstm", "stand_ins": None, "refuse": {}}
    state = {"weight_ih": randn(32, 5), "weight_hh": randn(32, 8), "bias_ih": randn(32), "bias_hh": randn(32)}
    return {"op": "call", "package": "rnn_exercises", "stem": "ex3_lstm", "name": "lstm_cell", "load": load,
            "args": [randn(3, 5), (randn(3, 8), randn(3, 8)), randn(32, 5), randn(32, 8), randn(32), randn(32)],
            "kwargs": {}, "seed": 1234567, "build": {"args": [5, 8], "kwargs": {}, "dtype": torch.float64,
                                                     "device": torch.device("cpu"), "state": state, "training": False},
            "cotangents": [randn(3, 8), randn(3, 8)], "grad_paths": [(0,), (1, 0), (1, 1)], "torch_helpers": []}


def typical_reply() -> dict[str, Any]:
    g = torch.Generator().manual_seed(1)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    return {"ok": True, "result": (randn(5, 3, 8), (randn(1, 3, 8), randn(1, 3, 8))), "modified": [],
            "has_grad": [True, True, True], "grads": [randn(5, 3, 8), randn(1, 3, 8), randn(1, 3, 8), randn(5, 3, 8)],
            "backward_error": None, "violations": []}


# --- the previous format, as remote.py and sandbox/main.py had it ------------------------------------


def torch_save(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def checked_torch_load(payload: bytes) -> Any:
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        entries = archive.infolist()
    assert len(entries) <= 4096 and all(e.compress_type == zipfile.ZIP_STORED for e in entries)
    assert sum(e.file_size for e in entries) <= remote.MAX_REPLY_BYTES
    reply = torch.load(io.BytesIO(payload), weights_only=True)
    budget = [remote.MAX_REPLY_NODES]

    def bounded(item: Any, depth: int) -> bool:
        budget[0] -= 1
        if budget[0] < 0 or depth > remote.MAX_REPLY_DEPTH:
            return False
        if isinstance(item, torch.Tensor):
            return item.numel() <= remote.MAX_TENSOR_ELEMENTS
        if isinstance(item, (list, tuple)):
            return all(bounded(v, depth + 1) for v in item)
        if isinstance(item, dict):
            return all(bounded(k, depth + 1) and bounded(v, depth + 1) for k, v in item.items())
        return True

    assert bounded(reply, 0)
    return reply


def median_us(step: Callable[[], Any], repeat: int) -> float:
    for _ in range(20):
        step()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    repeat = parser.parse_args().repeat
    request, reply = typical_request(), typical_reply()
    old_request, old_reply = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL), torch_save(reply)
    new_request, new_reply = wire.encode_request(request), wire.encode(reply)
    bounded_request = wire.encode(request)
    steps = [
        ("previous", "request: pickle.dumps", lambda: pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)),
        ("previous", "request: pickle.loads", lambda: pickle.loads(old_request)),
        ("previous", "reply: torch.save", lambda: torch_save(reply)),
        ("previous", "reply: checks + torch.load", lambda: checked_torch_load(old_reply)),
        ("wire", "request: wire.encode_request", lambda: wire.encode_request(request)),
        ("wire", "request: wire.decode_request", lambda: wire.decode_request(new_request)),
        ("bounded", "request: wire.encode", lambda: wire.encode(request)),
        ("bounded", "request: wire.decode", lambda: wire.decode(bounded_request)),
        ("wire", "reply: wire.encode", lambda: wire.encode(reply)),
        ("wire", "reply: read_reply (wire.decode, bounded)", lambda: remote.read_reply(new_reply)),
    ]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    print(f"median of {repeat} rounds, one thread; {os.cpu_count()} logical cores, load average {load}")
    print(f"request: {len(old_request)} bytes pickled, {len(new_request)} bytes on the wire; "
          f"reply: {len(old_reply)} bytes as a torch archive, {len(new_reply)} bytes on the wire")
    totals: dict[str, float] = {}
    for fmt, name, step in steps:
        us = median_us(step, repeat)
        totals[fmt] = totals.get(fmt, 0.0) + us
        if fmt == "wire" and name.startswith("request"):
            totals["wire request"] = totals.get("wire request", 0.0) + us
        print(f"  {fmt:8} {name:42} {us:8.1f} us")
    for fmt in ("previous", "wire"):
        print(f"{fmt:8} round trip (request and reply, both ends): {totals[fmt] / 1000:.3f} ms")
    bounded = totals["wire"] - totals["wire request"] + totals["bounded"]
    print(f"         the same with the request in the bounded form: {bounded / 1000:.3f} ms")
    print(f"speed-up: {totals['previous'] / totals['wire']:.1f}x")


if __name__ == "__main__":
    main()
