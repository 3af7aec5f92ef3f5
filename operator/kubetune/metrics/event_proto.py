"""The scalars of one TensorBoard `Event` record, decoded from protobuf's wire format.

Only what a tuner needs is read (field numbers from tensorboard/compat/proto):
  Event:           wall_time = 1 (double), step = 2 (int64), summary = 5
  Summary:         value = 1 (repeated)
  Summary.Value:   tag = 1, simple_value = 2 (float), tensor = 8, metadata = 9
  SummaryMetadata: plugin_data = 1 -> PluginData.plugin_name = 1
  TensorProto:     dtype = 1, tensor_content = 4, float_val = 5, double_val = 6,
                   int_val = 7, int64_val = 10, half_val = 13
Scalars come in two shapes: `simple_value` (PyTorch's SummaryWriter, tensorboardX, TF1) and
a one-element tensor of the `scalars` plugin (TF2 and Keras' `tf.summary.scalar`). TF writes
a tag's plugin only with its first value, so `decode_event` is handed the plugins seen so far
in the file and adds to them. Everything else (images, histograms, graphs, text) is skipped.
Pure: bytes in, values out; a payload that is not an Event raises `BadEventError`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

SCALARS_PLUGIN = "scalars"
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
#: TensorProto dtypes a scalar may have, as (struct format of tensor_content, field of values).
_DTYPES = {1: ("<f", 5), 2: ("<d", 6), 3: ("<i", 7), 9: ("<q", 10), 19: ("<e", 13)}
_BFLOAT16 = 14
_SCALAR_CLASS = 1  # SummaryMetadata.data_class DATA_CLASS_SCALAR


class BadEventError(ValueError):
    """A record whose payload does not decode as an Event."""


@dataclass(frozen=True)
class Scalar:
    tag: str
    value: float


@dataclass(frozen=True)
class Event:
    step: int | None
    scalars: tuple[Scalar, ...]


def _varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise BadEventError("a varint runs past its message")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, at


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field: an int for varints and fixed-width
    fields (their raw bits), bytes for length-delimited ones."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == _VARINT:
            value, at = _varint(data, at)
            yield number, kind, value
        elif kind in (_I64, _I32):
            width = 8 if kind == _I64 else 4
            if at + width > len(data):
                raise BadEventError("a fixed-width field runs past its message")
            yield number, kind, int.from_bytes(data[at : at + width], "little")
            at += width
        elif kind == _LEN:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise BadEventError("a length-delimited field runs past its message")
            yield number, kind, data[at : at + length]
            at += length
        else:
            raise BadEventError(f"wire type {kind} is not one protobuf writes")


def shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32 (0.1, not 0.10000000149011612): what
    the trainer wrote, before float32 rounded it."""
    if not math.isfinite(value):
        return value
    packed = struct.pack("<f", value)
    for digits in range(6, 10):
        shorter = float(f"{value:.{digits}g}")
        if struct.pack("<f", shorter) == packed:
            return shorter
    return value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _plugin(metadata: bytes) -> str | None:
    """The plugin a tag's metadata names; a scalar data class without one is a scalar too."""
    scalar_class = False
    for number, _, value in fields(metadata):
        if number == 1 and isinstance(value, bytes):
            for inner, _, name in fields(value):
                if inner == 1 and isinstance(name, bytes):
                    return name.decode("utf-8", "replace")
        elif number == 4 and value == _SCALAR_CLASS:
            scalar_class = True
    return SCALARS_PLUGIN if scalar_class else None


def _packed(values: bytes, kind: int, dtype: int) -> list[float]:
    if kind != _LEN:  # one unpacked element
        return []
    if dtype in (1, 2):
        fmt = "<f" if dtype == 1 else "<d"
        usable = len(values) - len(values) % struct.calcsize(fmt)
        found = [v for (v,) in struct.iter_unpack(fmt, values[:usable])]
        return [shortest_float32(v) for v in found] if dtype == 1 else found
    out: list[float] = []
    at = 0
    while at < len(values):
        raw, at = _varint(values, at)
        out.append(float(_signed(raw)))
    return out


def _tensor_value(tensor: bytes) -> float | None:
    """The single element of a scalar tensor; None for a tensor of several or of strings."""
    dtype, content, listed = 0, b"", []
    for number, kind, value in fields(tensor):
        if number == 1 and isinstance(value, int):
            dtype = value
        elif number == 4 and isinstance(value, bytes):
            content = value
        elif number in (5, 6, 7, 10, 13):
            listed.append((number, kind, value))
    if dtype == _BFLOAT16:
        return _bfloat16(content, listed)
    shape = _DTYPES.get(dtype)
    if shape is None:
        return None
    fmt, wanted = shape
    if content:
        width = struct.calcsize(fmt)
        if len(content) != width:
            return None
        single = float(struct.unpack(fmt, content)[0])
        return shortest_float32(single) if dtype == 1 else single
    values: list[float] = []
    for number, kind, value in listed:
        if number != wanted:
            continue
        if isinstance(value, bytes):
            values += _packed(value, kind, dtype)
        elif kind == _I32:
            values.append(shortest_float32(struct.unpack("<f", value.to_bytes(4, "little"))[0]))
        elif kind == _I64:
            values.append(struct.unpack("<d", value.to_bytes(8, "little"))[0])
        else:
            values.append(float(_signed(value)))
    if dtype == 19:  # half: each element is its 16 bits, in an int32 list
        values = [struct.unpack("<e", int(v).to_bytes(2, "little"))[0] for v in values]
    return values[0] if len(values) == 1 else None


def _bfloat16(content: bytes, listed: list[tuple[int, int, int | bytes]]) -> float | None:
    bits = [int.from_bytes(content, "little")] if len(content) == 2 else []
    for number, kind, value in listed:
        if number == 13:
            bits += (
                [int(v) for v in _packed(value, kind, 3)] if isinstance(value, bytes) else [value]
            )
    if len(bits) != 1:
        return None
    return float(struct.unpack("<f", (bits[0] << 16).to_bytes(4, "little"))[0])


def _value(raw: bytes, plugins: dict[str, str]) -> Scalar | None:
    tag, simple, tensor, plugin = "", None, None, None
    for number, kind, value in fields(raw):
        if number == 1 and isinstance(value, bytes):
            tag = value.decode("utf-8", "replace")
        elif number == 2 and kind == _I32 and isinstance(value, int):
            simple = shortest_float32(struct.unpack("<f", value.to_bytes(4, "little"))[0])
        elif number == 8 and isinstance(value, bytes):
            tensor = value
        elif number == 9 and isinstance(value, bytes):
            plugin = _plugin(value)
    if plugin is not None:
        plugins[tag] = plugin
    if simple is not None:
        return Scalar(tag, float(simple))
    if tensor is not None and plugins.get(tag) == SCALARS_PLUGIN:
        found = _tensor_value(tensor)
        return None if found is None else Scalar(tag, found)
    return None


def decode_event(payload: bytes, plugins: dict[str, str]) -> Event:
    """The step and scalars of one record; `plugins` (tag -> plugin name, for this file) is
    read and added to."""
    step = 0  # proto3 leaves a zero out: an Event without a step is at step 0
    scalars: list[Scalar] = []
    for number, kind, value in fields(payload):
        if number == 2 and kind == _VARINT and isinstance(value, int):
            step = _signed(value)
        elif number == 5 and isinstance(value, bytes):
            for inner, _, item in fields(value):
                if inner == 1 and isinstance(item, bytes):
                    found = _value(item, plugins)
                    if found is not None:
                        scalars.append(found)
    return Event(step if step >= 0 else None, tuple(scalars))
