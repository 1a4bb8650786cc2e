"""The codec of the judge <-> sandbox channel: plain values and tensors as bytes, and back, with bounds.

Both directions use it: the judge's requests (`grader/judge/remote.py`) and the sandbox's
replies (`grader/sandbox/main.py`). Replies come from a process that runs learner code,
which can write anything to the channel, so `decode` executes nothing and trusts nothing:
every length is checked against the bytes that remain, and the caller's bounds (total bytes,
nesting depth, values, elements per tensor) are enforced while reading, before anything is
allocated for them. Any malformed or oversized input raises `WireError` and nothing else.

A frame is `MAGIC`, then one value; a value is a one-byte tag, then:

    N None    F False    T True
    i int, 8 bytes signed          I int, 4-byte length n, n bytes signed (longer than 8 bytes only)
    d float, 8 bytes (IEEE 754, every bit kept: -0.0, inf, nan)
    s str, 4-byte length, UTF-8 (lone surrogates kept)       b bytes, 4-byte length, the bytes
    ( tuple, [ list: 4-byte count, the items           { dict: 4-byte count, key then value, each
    y torch.dtype: 1-byte code (`DTYPES`)               v torch.device: 1-byte length, its name ("cuda:0")
    t torch.Tensor (strided): dtype code, device name as for `v`, 1-byte dimension count, each size as
      8 bytes signed, 8-byte length of the data, the data: the elements of a contiguous CPU copy in
      row-major order, conjugate and negative bits resolved

Integers are little-endian. Types are matched exactly (a subclass of int, dict or Tensor raises TypeError
in `encode`, as does anything else), tuples and lists stay apart, and dict keys keep their order. A
tensor's requires_grad, strides, storage and identity do not cross (no request needs them: the sandbox
sets requires_grad itself, on the paths the judge names); decoded tensors are fresh, writable and
contiguous, on the device named, sharing memory with nothing.

The judge's requests have a second, faster form (`encode_request`, `decode_request`): a pickle whose tensors
are carried as their bytes, as above. Only the sandbox reads it, and what it reads is the judge's own,
so the pickle's power is no risk there (learner code running in that process can do anything a pickle
could); about four times faster to read than `decode`, it is never used for what the judge reads.

Imports only the standard library and torch: the sandbox imports it before it is confined.
"""
from __future__ import annotations

import ctypes
import io
import pickle
import struct
from typing import Any, Callable

import torch

MAGIC = b"RW\x01"  # format 1; a pickle, a zip archive or garbage is refused at once

_I8 = struct.Struct("<q")
_U8 = struct.Struct("<Q")
_U4 = struct.Struct("<I")
_F8 = struct.Struct("<d")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
MAX_INT_BYTES = 1024  # an int longer than this (about 2,466 digits) is not a result
MAX_DIMS = 64
MAX_DEVICE_NAME = 32
DEVICE_TYPES = frozenset({"cpu", "cuda", "mps", "xpu"})

# The tensor dtypes that cross, by a code that never changes (dtypes this torch lacks are left out).
_DTYPE_NAMES = {
    1: "bool", 2: "uint8", 3: "int8", 4: "int16", 5: "int32", 6: "int64", 7: "float16", 8: "bfloat16",
    9: "float32", 10: "float64", 11: "complex64", 12: "complex128", 13: "uint16", 14: "uint32", 15: "uint64",
    16: "complex32", 17: "float8_e4m3fn", 18: "float8_e5m2",
}
DTYPES: dict[int, torch.dtype] = {code: getattr(torch, name) for code, name in _DTYPE_NAMES.items()
                                  if isinstance(getattr(torch, name, None), torch.dtype)}
_DTYPE_CODES: dict[torch.dtype, int] = {dtype: code for code, dtype in DTYPES.items()}
_ITEM_SIZES: dict[int, int] = {code: dtype.itemsize for code, dtype in DTYPES.items()}
_BOOL = _DTYPE_CODES[torch.bool]


class WireError(ValueError):
    """A frame that is malformed, or larger or deeper than the decoder's bounds allow."""


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------


def encode(value: Any) -> bytes:
    """`value` as one frame; TypeError for anything the codec does not carry."""
    out = [MAGIC]
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: list[bytes]) -> None:
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        raise TypeError(f"cannot send a value of type {type(value).__qualname__}")
    encoder(value, out)


def _encode_none(value: None, out: list[bytes]) -> None:
    out.append(b"N")


def _encode_bool(value: bool, out: list[bytes]) -> None:
    out.append(b"T" if value else b"F")


def _encode_int(value: int, out: list[bytes]) -> None:
    if _INT64_MIN <= value <= _INT64_MAX:
        out.append(b"i" + _I8.pack(value))
        return
    size = value.bit_length() // 8 + 1  # room for the sign bit
    if size > MAX_INT_BYTES:
        raise TypeError(f"cannot send an int of {value.bit_length()} bits")
    out.append(b"I" + _U4.pack(size) + value.to_bytes(size, "little", signed=True))


def _encode_float(value: float, out: list[bytes]) -> None:
    out.append(b"d" + _F8.pack(value))


def _length(size: int) -> bytes:
    if size > 0xFFFFFFFF:
        raise TypeError(f"cannot send {size} bytes or items in one value")
    return _U4.pack(size)


def _encode_str(value: str, out: list[bytes]) -> None:
    data = value.encode("utf-8", "surrogatepass")
    out.append(b"s" + _length(len(data)))
    out.append(data)


def _encode_bytes(value: bytes, out: list[bytes]) -> None:
    out.append(b"b" + _length(len(value)))
    out.append(value)


def _encode_items(tag: bytes) -> Callable[[Any, list[bytes]], None]:
    def encode_items(value: tuple[Any, ...] | list[Any], out: list[bytes]) -> None:
        out.append(tag + _length(len(value)))
        for item in value:
            _encode(item, out)
    return encode_items


def _encode_dict(value: dict[Any, Any], out: list[bytes]) -> None:
    out.append(b"{" + _length(len(value)))
    for key, item in value.items():
        _encode(key, out)
        _encode(item, out)


def _encode_dtype(value: torch.dtype, out: list[bytes]) -> None:
    code = _DTYPE_CODES.get(value)
    if code is None:
        raise TypeError(f"cannot send dtype {value}")
    out.append(b"y" + bytes((code,)))


def _device_name(device: torch.device) -> bytes:
    """The device's name, as a tensor or device value carries it: its length, then its letters."""
    name = _DEVICE_NAMES.get(device)
    if name is None:
        text = str(device).encode("ascii")
        if device.type not in DEVICE_TYPES or len(text) > MAX_DEVICE_NAME:
            raise TypeError(f"cannot send device {device}")
        name = bytes((len(text),)) + text
        if len(_DEVICE_NAMES) < 64:
            _DEVICE_NAMES[device] = name
    return name


_DEVICE_NAMES: dict[torch.device, bytes] = {}


def _encode_device(value: torch.device, out: list[bytes]) -> None:
    out.append(b"v" + _device_name(value))


def _tensor_code(value: torch.Tensor) -> int:
    """The dtype code of a tensor that can cross; TypeError for one that cannot."""
    if value.layout != torch.strided:
        raise TypeError(f"cannot send a tensor with layout {value.layout}")
    code = _DTYPE_CODES.get(value.dtype)
    if code is None:
        raise TypeError(f"cannot send a tensor of dtype {value.dtype}")
    return code


def _element_bytes(value: torch.Tensor, code: int) -> bytes:
    """The elements of a contiguous CPU copy in row-major order, conjugate and negative bits resolved."""
    tensor = value
    if tensor.device.type != "cpu":
        tensor = tensor.detach().cpu()
    if tensor.is_conj():
        tensor = tensor.detach().resolve_conj()
    if tensor.is_neg():
        tensor = tensor.detach().resolve_neg()
    if not tensor.is_contiguous():
        tensor = tensor.detach().contiguous()
    size = tensor.numel() * _ITEM_SIZES[code]
    # A copy of exactly the elements' bytes: the tensor is contiguous, and data_ptr() is where they start.
    return ctypes.string_at(tensor.data_ptr(), size) if size else b""


def _encode_tensor(value: torch.Tensor, out: list[bytes]) -> None:
    code = _tensor_code(value)
    shape = value.shape
    if len(shape) > MAX_DIMS:
        raise TypeError(f"cannot send a tensor of {len(shape)} dimensions")
    name = _device_name(value.device)
    data = _element_bytes(value, code)
    out.append(b"t" + bytes((code,)) + name + bytes((len(shape),)) + b"".join([_I8.pack(n) for n in shape])
               + _U8.pack(len(data)))
    if data:
        out.append(data)


_ENCODERS: dict[type, Callable[[Any, list[bytes]], None]] = {
    type(None): _encode_none, bool: _encode_bool, int: _encode_int, float: _encode_float, str: _encode_str,
    bytes: _encode_bytes, tuple: _encode_items(b"("), list: _encode_items(b"["), dict: _encode_dict,
    torch.dtype: _encode_dtype, torch.device: _encode_device, torch.Tensor: _encode_tensor,
}


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def decode(data: bytes | bytearray | memoryview, *, max_bytes: int | None = None, max_depth: int = 64,
           max_nodes: int | None = None, max_elements: int | None = None) -> Any:
    """The value of one frame, read within these bounds (None: none but the frame's own length).

    `max_depth`: how deep a value may sit in containers (the frame's value is at depth 0, a list's items at 1,
    ...); `max_nodes`: values
    read, each key and item counted; `max_elements`: elements of any one tensor. Raises WireError."""
    if max_bytes is not None and len(data) > max_bytes:
        raise WireError(f"a frame of {len(data)} bytes, more than {max_bytes}")
    buffer = data if isinstance(data, bytearray) else bytearray(data)  # writable: tensors are copied out of it
    if buffer[:len(MAGIC)] != MAGIC:
        raise WireError("not a frame of this format")
    reader = _Reader(buffer, max_depth, max_nodes, max_elements)
    try:
        value = reader.value(0)
    except WireError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a malformed frame makes fail is the frame's fault
        raise WireError(f"a malformed frame ({type(error).__name__}: {error})") from None
    if reader.pos != len(buffer):
        raise WireError(f"{len(buffer) - reader.pos} bytes after the value")
    return value


class _Reader:
    __slots__ = ("buffer", "pos", "end", "max_depth", "nodes_left", "max_elements")

    def __init__(self, buffer: bytearray, max_depth: int, max_nodes: int | None, max_elements: int | None):
        self.buffer = buffer
        self.pos = len(MAGIC)
        self.end = len(buffer)
        self.max_depth = max_depth
        self.nodes_left = len(buffer) if max_nodes is None else max_nodes  # every value takes a byte at least
        self.max_elements = max_elements

    def take(self, size: int) -> int:
        """The position of the next `size` bytes, which must all be there; the position moves past them."""
        start = self.pos
        if size < 0 or size > self.end - start:
            raise WireError(f"the frame ends inside a value (at byte {start}, {size} more needed)")
        self.pos = start + size
        return start

    def count(self, per_item: int) -> int:
        """A 4-byte count of things that take at least `per_item` bytes and as many values each."""
        (n,) = _U4.unpack_from(self.buffer, self.take(4))
        if n * per_item > self.end - self.pos:
            raise WireError(f"a count of {n} that the rest of the frame cannot hold")
        if n * per_item > self.nodes_left:
            raise WireError("more values than the bound allows")
        return n

    def value(self, depth: int) -> Any:
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise WireError("more values than the bound allows")
        if depth > self.max_depth:
            raise WireError(f"values nested deeper than {self.max_depth}")
        tag = self.buffer[self.take(1)]
        if tag == 0x73:  # s
            n = self.count(1)
            start = self.take(n)
            return self.buffer[start:start + n].decode("utf-8", "surrogatepass")
        if tag == 0x74:  # t
            return self.tensor()
        if tag == 0x69:  # i
            return _I8.unpack_from(self.buffer, self.take(8))[0]
        if tag == 0x54:  # T
            return True
        if tag == 0x46:  # F
            return False
        if tag == 0x4E:  # N
            return None
        if tag == 0x64:  # d
            return _F8.unpack_from(self.buffer, self.take(8))[0]
        if tag in (0x28, 0x5B, 0x7B):  # ( [ {
            if tag == 0x7B:
                n = self.count(2)
                found = {}
                for _ in range(n):
                    key = self.value(depth + 1)
                    found[key] = self.value(depth + 1)  # an unhashable key raises TypeError: malformed
                if len(found) != n:
                    raise WireError("a dict with a repeated key")
                return found
            items = [self.value(depth + 1) for _ in range(self.count(1))]
            return tuple(items) if tag == 0x28 else items
        if tag == 0x79:  # y
            return self.dtype()
        if tag == 0x76:  # v
            return self.device()
        if tag == 0x49:  # I
            n = self.count(1)
            if n > MAX_INT_BYTES:
                raise WireError(f"an int of {n} bytes")
            start = self.take(n)
            return int.from_bytes(self.buffer[start:start + n], "little", signed=True)
        if tag == 0x62:  # b
            n = self.count(1)
            start = self.take(n)
            return bytes(self.buffer[start:start + n])
        raise WireError(f"unknown tag {tag:#04x} at byte {self.pos - 1}")

    def dtype(self) -> torch.dtype:
        code = self.buffer[self.take(1)]
        if code not in DTYPES:
            raise WireError(f"unknown dtype code {code}")
        return DTYPES[code]

    def device(self) -> torch.device:
        n = self.buffer[self.take(1)]
        if n > MAX_DEVICE_NAME:
            raise WireError("a device name too long")
        start = self.take(n)
        name = bytes(self.buffer[start:start + n])
        device = _DEVICES.get(name)
        if device is None:
            text = name.decode("ascii")
            device = torch.device(text)  # a name torch does not know raises: malformed
            if device.type not in DEVICE_TYPES or str(device) != text:
                raise WireError(f"device {text!r} refused")
            if len(_DEVICES) < 64:
                _DEVICES[name] = device
        return device

    def tensor(self) -> torch.Tensor:
        buffer, limit = self.buffer, self.max_elements
        code = buffer[self.take(1)]
        if code not in DTYPES:
            raise WireError(f"unknown dtype code {code}")
        device = self.device()
        dims = buffer[self.take(1)]
        if dims > MAX_DIMS:
            raise WireError(f"a tensor of {dims} dimensions")
        shape = struct.unpack_from(f"<{dims}q", buffer, self.take(8 * dims))
        elements = 1
        for n in shape:
            if n < 0:
                raise WireError(f"a negative size in shape {shape}")
            elements *= n
            # Each size on its own too: an empty tensor must not claim sizes that overflow its strides.
            if limit is not None and (elements > limit or n > limit):
                raise WireError(f"a tensor of shape {shape}, more than {limit} elements")
        (size,) = _U8.unpack_from(buffer, self.take(8))
        if size != elements * _ITEM_SIZES[code]:
            raise WireError(f"{size} bytes of data for a tensor of shape {shape}")
        start = self.take(size)
        dtype = DTYPES[code]
        if size == 0:
            tensor = torch.empty(shape, dtype=dtype)
        else:
            # Copied out as bytes, into memory of the tensor's own (torch's usual storage: aligned, resizable):
            # nothing aliases the frame. Then seen as the dtype, in the shape.
            raw = torch.frombuffer(buffer, dtype=torch.uint8, count=size, offset=start).clone()
            if code == _BOOL and bool((raw > 1).any()):
                raise WireError("a bool tensor with bytes other than 0 and 1")
            tensor = raw.view(dtype).view(shape)
        return tensor if device.type == "cpu" else tensor.to(device)


_DEVICES: dict[bytes, torch.device] = {}  # names read before, and their devices


# --------------------------------------------------------------------------
# Requests: the judge's own values, read by the sandbox only
# --------------------------------------------------------------------------


def encode_request(value: Any) -> bytes:
    """`value`, a request of the judge's, as a pickle whose tensors are carried as their bytes (and arrive as plain
    tensors, as `decode` gives them)."""
    out = io.BytesIO()
    _RequestPickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


def decode_request(data: bytes) -> Any:
    """A request of the judge's. Never for anything another process could have written: a pickle runs code."""
    return _RequestUnpickler(io.BytesIO(data)).load()


class _RequestPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if not isinstance(obj, torch.Tensor):
            return None
        code = _tensor_code(obj)
        return code, str(obj.device), tuple(obj.shape), _element_bytes(obj, code)


class _RequestUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> torch.Tensor:
        code, device, shape, data = pid
        tensor = torch.empty(shape, dtype=DTYPES[code])  # fresh, writable, contiguous, torch's own storage
        if data:
            ctypes.memmove(tensor.data_ptr(), data, len(data))
        return tensor if device == "cpu" else tensor.to(device)
