"""Minimal safetensors reader and writer (NumPy only, no torch).

File layout: an unsigned 64-bit little-endian header size N, then N bytes of
UTF-8 JSON {"name": {"dtype": "F16", "shape": [...], "data_offsets": [begin,
end]}, ..., "__metadata__": {"format": "pt"}} padded with spaces to a
multiple of 8, then the raw little-endian tensor bytes. data_offsets are
relative to the start of the data section.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "BF16": None}


def write_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> numpy array (float16 or float32).
    Layout: u64 little-endian header size N, N bytes of JSON header (padded
    with spaces to a multiple of 8), then the raw little-endian data; the
    data_offsets in the header are relative to the start of the data."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        if a.dtype == np.float16:
            dt, a = "F16", a.astype("<f2", copy=False)
        elif a.dtype == np.float32:
            dt, a = "F32", a.astype("<f4", copy=False)
        else:
            raise ValueError(f"{name}: unsupported dtype {a.dtype}")
        raw = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns (dict name -> numpy array in the file's dtype, metadata).
    BF16 tensors are returned as float32."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header size {n} past end of file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    body = memoryview(data)[8 + n:]
    out, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        dt = info["dtype"]
        if dt not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {dt}")
        width = 2 if dt in ("F16", "BF16") else 4
        if not (0 <= begin <= end <= len(body)) or end - begin != count * width:
            raise ValueError(f"{name}: bad data_offsets {begin}..{end} for "
                             f"{dt} {list(shape)}")
        spans.append((begin, end))
        raw = bytes(body[begin:end])
        if dt == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            a = u.view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=_DTYPES[dt])
        out[name] = a.reshape(shape)
    spans.sort()
    pos = 0
    for begin, end in spans:
        if begin != pos:
            raise ValueError(f"{path}: tensor data not contiguous at {begin}")
        pos = end
    if pos != len(body):
        raise ValueError(f"{path}: {len(body) - pos} trailing bytes after the data")
    return out, meta
