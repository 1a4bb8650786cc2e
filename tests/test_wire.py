"""The channel's codec (`grader.sandbox.wire`): every value it carries crosses exactly, and every malformed or
oversized frame is refused with WireError, before anything is allocated for it and without running code; the
judge's requests cross exactly in the fast form too."""
from __future__ import annotations

import math
import pickle
import random
import struct
import sys
from typing import Any

import pytest
import torch

from conftest import REPO

sys.path.insert(0, str(REPO))
from grader.judge import remote  # noqa: E402
from grader.sandbox import wire  # noqa: E402
from grader.sandbox.wire import WireError, decode, encode  # noqa: E402

ALL_DTYPES = list(wire.DTYPES.values())


def bits(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.resolve_conj().resolve_neg().contiguous().reshape(-1).view(torch.uint8)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down; tensors and floats bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return (a.dtype == b.dtype and a.shape == b.shape and a.device == b.device
                and (a.numel() == 0 or torch.equal(bits(a), bits(b))))
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def round_trip(value: Any, **bounds: Any) -> Any:
    decoded = decode(encode(value), **bounds)
    assert same(decoded, value), (value, decoded)
    return decoded


# --- what crosses -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    None, True, False, 0, 1, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**200, -(2**1000), 0.0, -0.0, 1.5,
    float("inf"), float("-inf"), 5e-324, sys.float_info.max, "", "ascii", "中文 and ünïcode", "lone \udcff surrogate",
    b"", b"\x00\xff" * 3, (), [], {}, (1,), [None], {"a": 1}, torch.float32, torch.bfloat16, torch.device("cpu"),
    torch.device("cuda:0"), torch.device("cuda"),
], ids=repr)
def test_plain_values_cross_exactly(value: Any) -> None:
    round_trip(value)


def test_nan_stays_nan() -> None:
    decoded = round_trip([float("nan"), -float("nan")])
    assert all(math.isnan(x) for x in decoded)


def test_containers_keep_their_types_order_and_keys() -> None:
    value = {"ok": True, 3: (1, [2, (3,)]), (1, "a"): {"inner": [[], ()]}, None: False, 2.5: b"x", torch.float64: 1,
             "z": {"deep": {"er": [1, 2.0, "3"]}}}
    decoded = round_trip(value)
    assert list(decoded) == list(value)
    assert type(decoded[3]) is tuple and type(decoded[3][1]) is list and type(decoded[3][1][1]) is tuple


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_every_dtype_crosses_bit_for_bit(dtype: torch.dtype) -> None:
    raw = torch.randint(0, 256, (2, 3, 4 * dtype.itemsize), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    if dtype == torch.bool:
        raw = raw % 2
    tensor = raw.view(dtype)
    assert tensor.shape == (2, 3, 4)
    for value in (tensor, tensor[0, 0, 0], tensor[:, :0], tensor.transpose(0, 2), tensor[:, 1, ::2]):
        decoded = round_trip(value)
        assert decoded.is_contiguous()


def test_special_float_bits_in_tensors() -> None:
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        values = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e-45, -3.5], dtype=dtype)
        decoded = round_trip(values)
        assert torch.signbit(decoded[1]) and torch.isnan(decoded[4])
    complex_values = torch.tensor([complex(-0.0, float("nan")), complex(float("inf"), -0.0)], dtype=torch.complex128)
    round_trip(complex_values)


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (5, 3, 8), (1, 1, 1, 1, 1, 1, 1, 1)], ids=str)
def test_shapes(shape: tuple[int, ...]) -> None:
    decoded = round_trip(torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape))
    assert decoded.shape == shape


def test_views_cross_as_their_values_only() -> None:
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    for view in (base.T, base[1:3, ::2], base[2], base.expand(2, 4, 6), base.unsqueeze(1)[:, :, 3:], base[3, 5]):
        decoded = round_trip(view)
        assert decoded.is_contiguous() and decoded.untyped_storage().nbytes() == view.numel() * 8


def test_conjugate_and_negative_views_are_resolved() -> None:
    z = torch.tensor([1 + 2j, -3 - 4j], dtype=torch.complex64)
    decoded = round_trip(z.conj())
    assert not decoded.is_conj() and torch.equal(decoded, torch.tensor([1 - 2j, -3 + 4j], dtype=torch.complex64))
    negative = torch._neg_view(torch.tensor([1.0, -2.0]))
    assert negative.is_neg()
    assert torch.equal(round_trip(negative), torch.tensor([-1.0, 2.0]))


def test_decoded_tensors_are_fresh_writable_and_detached() -> None:
    leaf = torch.ones(3, requires_grad=True)
    frame = bytearray(encode({"a": leaf, "b": leaf, "c": leaf * 2}))
    decoded = decode(frame)
    assert not decoded["a"].requires_grad and decoded["a"] is not decoded["b"]
    decoded["a"].add_(1)  # writable, and shares memory with nothing: not the other copy, not the frame
    decoded["a"].resize_(10)  # torch's usual, resizable storage
    assert torch.equal(decoded["b"], torch.ones(3)) and frame == encode({"a": leaf, "b": leaf, "c": leaf * 2})
    frame[-1] ^= 0xFF
    assert torch.equal(decoded["c"], torch.full((3,), 2.0))


def test_a_request_and_a_reply_of_the_grader_cross() -> None:
    state = {"weight_ih_l0": torch.randn(12, 3, dtype=torch.float64), "bias_ih_l0": torch.randn(12, dtype=torch.float64)}
    request = {"op": "call", "package": "rnn_exercises", "stem": "ex3_lstm", "name": "lstm_cell",
               "load": {"op": "load", "package": "rnn_exercises", "stem": "ex3_lstm", "stand_ins": None,
                        "refuse": {"f": ("torch.lstm_cell", "ex3_lstm.py", 9, "builtin")}},
               "args": [torch.randn(5, 3), (torch.randn(5, 4), torch.randn(5, 4)), {"__cell__": "lstm"}],
               "kwargs": {"dropout": 0.25, "training": False}, "seed": 123456789,
               "build": {"args": [3, 4], "kwargs": {}, "dtype": torch.float64, "device": torch.device("cpu"),
                         "state": state, "training": False},
               "cotangents": [torch.randn(5, 4)], "grad_paths": [(0,), (1, 0)], "torch_helpers": ["sigmoid"]}
    round_trip(request)
    reply = {"ok": True, "result": (torch.randn(5, 3, 8), (torch.randn(1, 3, 8), torch.randn(1, 3, 8))),
             "modified": [[5, 3]], "has_grad": [True, False], "grads": [torch.randn(5, 3), None],
             "backward_error": None, "violations": [("torch.lstm", "ex3_lstm.py", 12, "builtin")]}
    assert same(remote.read_reply(encode(reply)), reply)


# --- what does not ---------------------------------------------------------------------------------


class _Int(int):
    pass


@pytest.mark.parametrize("value", [
    object(), {1, 2}, frozenset(), 1j, bytearray(b"x"), _Int(3), torch.nn.Parameter(torch.ones(2)),
    torch.ones(2).as_subclass(type("Sub", (torch.Tensor,), {})), torch.ones(2).to_sparse(), torch.Size([2, 3]),
    2**(8 * wire.MAX_INT_BYTES), torch.device("meta"), torch.ones(2, device="meta"), torch.qint8, [1, {2: object()}],
], ids=lambda v: type(v).__name__)
def test_anything_else_raises_type_error(value: Any) -> None:
    with pytest.raises(TypeError):
        encode(value)


def test_a_cycle_raises_recursion_error() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        encode(cycle)


# --- refusals -----------------------------------------------------------------------------------

I8, U8, U4 = struct.Struct("<q"), struct.Struct("<Q"), struct.Struct("<I")
FLOAT32 = bytes((next(c for c, d in wire.DTYPES.items() if d == torch.float32),))
CPU = b"\x03cpu"


def tensor_frame(shape: tuple[int, ...], size: int | None = None, dtype: bytes = FLOAT32, device: bytes = CPU,
                 data: bytes | None = None) -> bytes:
    elements = math.prod(shape)
    size = elements * 4 if size is None else size
    data = bytes(size) if data is None else data
    return (wire.MAGIC + b"t" + dtype + device + bytes((len(shape),)) + b"".join(I8.pack(n) for n in shape)
            + U8.pack(size) + data)


def nested(depth: int) -> bytes:
    return wire.MAGIC + b"[\x01\x00\x00\x00" * depth + b"N"


REFUSED = {
    "empty": b"",
    "magic only": wire.MAGIC,
    "garbage": b"\xff" * 16,
    "another format's magic": b"RW\x02N",
    "a pickle": pickle.dumps({"ok": True}),
    "a torch archive": b"PK\x03\x04" + bytes(60),
    "unknown tag": wire.MAGIC + b"Z",
    "trailing bytes": encode({"ok": True}) + b"N",
    "truncated int": encode(12345)[:-1],
    "truncated float": encode(1.5)[:-3],
    "truncated str": encode("hello")[:-1],
    "str longer than the frame": wire.MAGIC + b"s" + U4.pack(2**32 - 1) + b"abc",
    "bad utf-8": wire.MAGIC + b"s" + U4.pack(2) + b"\xc3\x28",
    "list count beyond the frame": wire.MAGIC + b"[" + U4.pack(2**32 - 1) + b"N" * 10,
    "truncated list": encode([1, 2, 3])[:-9],
    "dict with an unhashable key": wire.MAGIC + b"{" + U4.pack(1) + b"[" + U4.pack(0) + b"N",
    "dict with a repeated key": wire.MAGIC + b"{" + U4.pack(2) + b"NTNF",
    "bad dtype code": wire.MAGIC + b"y\xee",
    "bad tensor dtype": tensor_frame((2,), dtype=b"\x00"),
    "bad device": tensor_frame((2,), device=b"\x04quux"),
    "device not in canonical form": wire.MAGIC + b"v\x05cuda:",
    "meta device": tensor_frame((2,), device=b"\x04meta"),
    "device name too long": wire.MAGIC + b"v\xff" + b"c" * 255,
    "too many dimensions": tensor_frame((1,) * 65),
    "negative dim": tensor_frame((-2, -3), size=24),
    "shape and bytes disagree": tensor_frame((2, 3), size=20),
    "bytes beyond the frame": tensor_frame((2, 3))[:-1],
    "huge shape": tensor_frame((2**31, 2**31, 2**31), size=0, data=b""),
    "huge size claimed": tensor_frame((4,), size=2**63, data=bytes(16)),
    "bool tensor with other bytes": tensor_frame((2,), size=2, dtype=bytes((next(
        c for c, d in wire.DTYPES.items() if d == torch.bool),)), data=b"\x01\x02"),
    "big int too long": wire.MAGIC + b"I" + U4.pack(wire.MAX_INT_BYTES + 1) + bytes(wire.MAX_INT_BYTES + 1),
    "too deep": nested(65),
}


@pytest.mark.parametrize("frame", REFUSED.values(), ids=REFUSED.keys())
def test_malformed_frames_are_refused(frame: bytes) -> None:
    with pytest.raises(WireError):
        decode(frame)
    with pytest.raises(WireError):
        remote.read_reply(frame)


def test_the_bounds() -> None:
    assert decode(nested(32), max_depth=32) is not None
    with pytest.raises(WireError, match="deeper"):
        decode(nested(33), max_depth=32)
    wide = encode(list(range(99)))  # 100 values, the list and its items
    assert decode(wide, max_nodes=100) == list(range(99))
    with pytest.raises(WireError, match="more values"):
        decode(wide, max_nodes=99)
    with pytest.raises(WireError, match="more values"):  # a count beyond the bound is refused before it is read
        decode(wire.MAGIC + b"[" + U4.pack(10**6) + b"N" * 10**6, max_nodes=1000)
    assert decode(encode(torch.zeros(4, 4)), max_elements=16).shape == (4, 4)
    for shape in ((4, 5), (0, 17), (17,)):  # an empty tensor may not claim huge sizes either
        with pytest.raises(WireError, match="elements"):
            decode(encode(torch.zeros(shape)), max_elements=16)
    frame = encode("x" * 100)
    assert decode(frame, max_bytes=len(frame)) == "x" * 100
    with pytest.raises(WireError, match="bytes"):
        decode(frame, max_bytes=len(frame) - 1)


def test_the_judge_refuses_a_reply_that_is_not_a_dict_with_ok() -> None:
    for value in ([], {"result": 1}, {"ok": 1}, {"ok": None}, "ok"):
        with pytest.raises(WireError):
            remote.read_reply(encode(value))
    assert remote.read_reply(encode({"ok": False})) == {"ok": False}


def test_the_judge_bounds_a_node_bomb_and_a_deep_reply() -> None:
    wide = {"ok": True, "result": [[0] * 1000 for _ in range(remote.MAX_REPLY_NODES // 1000)]}
    with pytest.raises(WireError, match="more values"):
        remote.read_reply(encode(wide))
    deep: Any = 0
    for _ in range(remote.MAX_REPLY_DEPTH):
        deep = [deep]
    with pytest.raises(WireError, match="deeper"):
        remote.read_reply(encode({"ok": True, "result": deep}))
    with pytest.raises(WireError, match="elements"):
        remote.read_reply(encode({"ok": True, "result": torch.zeros(remote.MAX_TENSOR_ELEMENTS + 1, dtype=torch.bool)}))


def test_a_pickle_is_refused_without_running_it(tmp_path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (marker.write_text, ("pwned",))

    frame = pickle.dumps({"ok": True, "result": Payload()})
    for forged in (frame, wire.MAGIC + frame, wire.MAGIC + b"b" + U4.pack(len(frame)) + frame + b"x"):
        with pytest.raises(WireError):
            remote.read_reply(forged)
    assert not marker.exists()


# --- random structures, every prefix and every corrupted byte --------------------------------------------------


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["none", "bool", "int", "bigint", "float", "str", "bytes", "dtype", "device", "tensor"]
    if depth < 4:
        kinds += ["tuple", "list", "dict"] * 2
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == "bigint":
        return rng.choice([-1, 1]) * rng.getrandbits(rng.randint(64, 3000))
    if kind == "float":
        return struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
    if kind == "str":
        return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x10FFFF)])) for _ in range(rng.randint(0, 8)))
    if kind == "bytes":
        return rng.randbytes(rng.randint(0, 8))
    if kind == "dtype":
        return rng.choice(ALL_DTYPES)
    if kind == "device":
        return torch.device(rng.choice(["cpu", "cuda:0", "cuda:3", "cuda"]))
    if kind == "tensor":
        dtype = rng.choice(ALL_DTYPES)
        shape = tuple(rng.randint(0, 4) for _ in range(rng.randint(0, 3)))
        raw = torch.tensor(list(rng.randbytes(math.prod(shape) * dtype.itemsize)), dtype=torch.uint8)
        if dtype == torch.bool:
            raw = raw % 2
        tensor = raw.view(dtype).reshape(shape) if raw.numel() else torch.empty(shape, dtype=dtype)
        return tensor.transpose(0, -1) if tensor.dim() > 1 and rng.random() < 0.3 else tensor
    items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "tuple":
        return tuple(items)
    if kind == "list":
        return items
    keys = [rng.choice([rng.randint(-5, 5), str(rng.random()), None, (1, "k")]) for _ in items]
    return dict(zip(keys, items))


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("seed", range(200))
def test_random_structures_cross_exactly_and_every_cut_or_flip_is_refused_or_read(seed: int) -> None:
    rng = random.Random(seed)
    value = random_value(rng)
    frame = encode(value)
    assert same(decode(frame), value)
    for cut in sorted({rng.randrange(len(frame)) for _ in range(20)} | {0, len(frame) - 1}):
        with pytest.raises(WireError):
            decode(frame[:cut])
    for _ in range(20):  # a flipped byte is either refused or read as some other value, never anything worse
        corrupted = bytearray(frame)
        corrupted[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        try:
            decode(corrupted, max_nodes=10_000, max_elements=10_000)
        except WireError:
            pass


try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # not in requirements.txt: the property test runs where it is installed
    given = None

if given is not None:
    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=64))
    def test_arbitrary_bytes_after_the_magic_are_refused_or_read(data: bytes) -> None:
        try:
            value = decode(wire.MAGIC + data, max_nodes=1000, max_elements=1000)
        except WireError:
            return
        assert same(decode(encode(value)), value)


# --- requests: the judge's own values, in the fast form only the sandbox reads ----------------------


def request_round_trip(value: Any) -> Any:
    decoded = wire.decode_request(wire.encode_request(value))
    assert same(decoded, value), (value, decoded)
    return decoded


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
def test_requests_carry_every_value_and_tensor_exactly() -> None:
    plain = [None, True, 0, -(2**63) - 1, 2**200, -0.0, float("inf"), 5e-324, "中文 \udcff", b"\x00\xff", (), [], {},
             {"a": (1, [2.5])}, torch.bfloat16, torch.device("cpu"), torch.device("cuda:0")]
    request_round_trip(plain)
    generator = torch.Generator().manual_seed(3)
    for dtype in ALL_DTYPES:
        raw = torch.randint(0, 256, (2, 3, 4 * dtype.itemsize), dtype=torch.uint8, generator=generator)
        tensor = (raw % 2 if dtype == torch.bool else raw).view(dtype)
        for value in (tensor, tensor[0, 0, 0], tensor[:, :0], tensor.transpose(0, 2), tensor[:, 1, ::2]):
            assert request_round_trip(value).is_contiguous()
    special = torch.tensor([0.0, -0.0, float("inf"), float("nan"), 1e-45], dtype=torch.float32)
    assert torch.signbit(request_round_trip(special)[1])
    z = torch.tensor([1 + 2j, -3 - 4j], dtype=torch.complex64)
    assert torch.equal(request_round_trip(z.conj()), torch.tensor([1 - 2j, -3 + 4j], dtype=torch.complex64))
    assert torch.equal(request_round_trip(torch._neg_view(torch.tensor([1.0, -2.0]))), torch.tensor([-1.0, 2.0]))
    for shape in [(), (0,), (3, 0, 2), (1, 1, 1, 1, 1, 1, 1, 1)]:
        assert request_round_trip(torch.zeros(shape)).shape == shape


def test_request_tensors_arrive_plain_fresh_writable_and_resizable() -> None:
    leaf = torch.ones(3, requires_grad=True)
    parameter = torch.nn.Parameter(torch.full((2,), 5.0))
    decoded = wire.decode_request(wire.encode_request({"a": leaf, "b": leaf, "c": leaf * 2, "p": parameter}))
    assert type(decoded["p"]) is torch.Tensor and not decoded["p"].requires_grad
    assert torch.equal(decoded["p"], torch.full((2,), 5.0))
    assert not decoded["a"].requires_grad and decoded["a"] is not decoded["b"]
    decoded["a"].add_(1)  # shares memory with nothing
    decoded["a"].resize_(10)  # torch's usual, resizable storage
    assert torch.equal(decoded["b"], torch.ones(3)) and torch.equal(decoded["c"], torch.full((3,), 2.0))
    with pytest.raises(TypeError):
        wire.encode_request(torch.ones(2).to_sparse())


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("seed", range(50))
def test_random_structures_cross_as_requests(seed: int) -> None:
    request_round_trip(random_value(random.Random(seed)))
