"""Reading and writing Hugging Face's safetensors files with NumPy alone.

The format (https://github.com/huggingface/safetensors), byte by byte:

    8 bytes   N, the header's length, an unsigned little-endian 64-bit integer
    N bytes   a JSON object, UTF-8, padded with spaces so that 8 + N is a multiple of 8:
                {"__metadata__": {"format": "pt"},                     (optional; str -> str)
                 "wte.weight": {"dtype": "F32", "shape": [512, 64], "data_offsets": [0, 131072]},
                 ...}
    the rest  every tensor's bytes, little-endian, row-major (C order), back to back;
              data_offsets are [begin, end) within this part, and they cover it exactly

Reading needs no library: parse the JSON, then `np.frombuffer` each byte range. Writing follows
the reference implementation (the Rust `safetensors` crate) so that our files are the files it
would write: tensors sorted by dtype, widest alignment first, then by name; the header lists
`__metadata__` first, then the tensors in that same order, as compact JSON.

    save_file({"w": np.ones((2, 3), np.float32)}, "model.safetensors")
    tensors = load_file("model.safetensors")            # {"w": array(...)}
    read_metadata("model.safetensors")                  # {"format": "pt"}
"""
import json
import math
import struct
from collections.abc import Mapping

import numpy as np

from .serialization import atomic_write

# safetensors dtype name -> NumPy dtype of the stored bytes (explicitly little-endian).
# BF16 has no NumPy dtype: it is read as raw 16-bit words and widened to float32.
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_WRITABLE = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32",
             np.dtype(np.float16): "F16", np.dtype(np.int64): "I64",
             np.dtype(np.int8): "I8"}                 # int8 weights (gpt.quantize)
# The reference writer's dtype order (its Rust enum, "in increasing alignment order"); it lays
# tensors out from the last of these to the first, so wide types come first and stay aligned.
_ALIGNMENT_ORDER = ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
                    "F64", "I64", "U64"]
_MAX_HEADER = 100_000_000    # the reference reader's limit; a larger N means a corrupt file


def save_file(tensors, path, metadata=None, bfloat16=False):
    """Write `{name: ndarray}` (float64, float32, float16, int64 or int8) to `path`,
    atomically.

    `metadata` is an optional `{str: str}`; `{"format": "pt"}` is always added, because
    Hugging Face transformers refuses a file without it. bfloat16=True writes every float32
    tensor as BF16 (rounded to nearest, half the bytes), as today's open checkpoints ship;
    each is converted as it is written, so no second copy of the whole set is made.
    """
    metadata = {**(metadata or {}), "format": "pt"}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"safetensors metadata must map str to str, got {metadata!r}")
    entries = []                                    # (dtype name, tensor name, array)
    for name, array in tensors.items():
        array = np.asarray(array)
        native = array.dtype.newbyteorder("=")          # a big-endian array is fine too
        if native not in _WRITABLE:
            raise TypeError(f"save_file: {name!r} is {array.dtype}; safetensors writing here "
                            f"supports float64, float32, float16, int64 and int8")
        dtype_name = _WRITABLE[native]
        entries.append(("BF16" if bfloat16 and dtype_name == "F32" else dtype_name, name,
                        array))
    entries.sort(key=lambda e: (-_ALIGNMENT_ORDER.index(e[0]), e[1]))

    header = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for dtype_name, name, array in entries:
        nbytes = array.size * _DTYPES[dtype_name].itemsize
        header[name] = {"dtype": dtype_name, "shape": list(array.shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    # Compact JSON, non-ASCII names as raw UTF-8: what serde_json (the reference) writes.
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)

    with atomic_write(path) as file:
        file.write(struct.pack("<Q", len(header_bytes)))
        file.write(header_bytes)
        for dtype_name, _, array in entries:
            if dtype_name == "BF16":
                array = float32_to_bfloat16(array)
            # astype to the little-endian dtype is a no-op on little-endian machines.
            file.write(np.ascontiguousarray(array, dtype=_DTYPES[dtype_name]).data)


def load_file(path):
    """`{name: ndarray}` in the file's data order. BF16 becomes float32; other dtypes keep
    theirs. The arrays are copies (writable, independent of the file)."""
    header, data = _read(path)
    tensors = {}
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        tensors[name] = _tensor(path, name, info, data)
    return tensors


class TensorFile(Mapping):
    """A safetensors file opened for reading, tensor by tensor: `{name: ndarray}` on demand.

        with TensorFile("model.safetensors") as tensors:
            weight = tensors["wte.weight"]

    The file is mapped into memory (np.memmap), not read: a tensor costs memory only when it
    is asked for, and then only what its conversion needs. F32 (and the other dtypes NumPy
    has) come back as read-only views of the file's bytes, with no copy at all; BF16 comes
    back converted to float32 (a new array: NumPy has no bfloat16). So a loader that copies
    each tensor into its parameter holds at most one extra tensor at a time, whatever the size
    of the file, and one that uses `read_into` none. The header is checked as load_file
    checks it.
    """

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as file:
            header = _parse_header(path, file.read(8), file)
            self.data_start = file.tell()
            file.seek(0, 2)
            data_length = file.tell() - self.data_start
        self.metadata = header.pop("__metadata__", None) or {}
        _check_offsets(path, header, data_length)
        self.header = header
        self._map = (np.memmap(path, dtype=np.uint8, mode="r", offset=self.data_start,
                               shape=(data_length,)) if data_length else np.zeros(0, np.uint8))

    def __getitem__(self, name):
        info = self.header[name]
        begin, end = info["data_offsets"]
        stored = self._map[begin:end].view(_DTYPES[info["dtype"]]).reshape(info["shape"])
        return _widened(stored, info["dtype"])

    def read_into(self, name, out):
        """Copy tensor `name` into `out`, a float array of its shape (a parameter, its rows,
        or a transposed view of it), converting on the way with no copy of the tensor in
        between: BF16's words are widened inside `out`'s own bits, other dtypes cast by
        np.copyto (a value beyond float32's range becomes inf)."""
        info = self.header[name]
        begin, end = info["data_offsets"]
        stored = self._map[begin:end].view(_DTYPES[info["dtype"]]).reshape(info["shape"])
        if tuple(info["shape"]) != out.shape:
            raise ValueError(f"{self.path}: tensor {name!r} has shape {tuple(info['shape'])}, "
                             f"not {out.shape}")
        if info["dtype"] == "BF16" and out.dtype == np.float32:
            bits = out.view(np.uint32)             # the same memory, read as 32-bit words
            bits[...] = stored
            bits <<= 16
            return out
        with np.errstate(over="ignore"):
            np.copyto(out, _widened(stored, info["dtype"]), casting="unsafe")
        return out

    def __iter__(self):
        return iter(self.header)

    def __len__(self):
        return len(self.header)

    def dtype_name(self, name):
        """The dtype the file stores `name` in: "F32", "BF16", ..."""
        return self.header[name]["dtype"]

    def close(self):
        self._map = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def read_metadata(path):
    """The file's `__metadata__` dict ({} when it has none), without reading the tensors."""
    with open(path, "rb") as file:
        header = _parse_header(path, file.read(8), file)
    return header.get("__metadata__") or {}


def _read(path):
    with open(path, "rb") as file:
        header = _parse_header(path, file.read(8), file)
        data = file.read()
    header.pop("__metadata__", None)
    _check_offsets(path, header, len(data))
    return header, data


def _parse_header(path, length_bytes, file):
    if len(length_bytes) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than the 8-byte header length)")
    (n,) = struct.unpack("<Q", length_bytes)
    if n > _MAX_HEADER:
        raise ValueError(f"{path}: header length {n} is implausible; the file is corrupt "
                         f"or not a safetensors file")
    header_bytes = file.read(n)
    if len(header_bytes) < n:
        raise ValueError(f"{path}: truncated: the header should be {n} bytes, "
                         f"the file has {len(header_bytes)} after the length")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: the header is not valid JSON ({error}); "
                         f"the file is corrupt or not a safetensors file") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the header is not a JSON object")
    metadata = header.get("__metadata__")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(value, str) for value in metadata.values())):
        raise ValueError(f"{path}: __metadata__ must map strings to strings, got {metadata!r}")
    return header


def _is_count(value):
    """A JSON integer >= 0 (JSON's true is a bool in Python, and bool is a subclass of int)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entry(path, name, info):
    """One tensor's entry: a dtype this reader knows, a shape and two data offsets, all
    non-negative integers."""
    if not isinstance(info, dict):
        raise ValueError(f"{path}: the header entry for {name!r} is not an object: {info!r}")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise ValueError(f"{path}: tensor {name!r} has dtype {dtype!r}, which this reader does "
                         f"not support (it reads {', '.join(_DTYPES)})")
    if not (isinstance(shape, list) and all(_is_count(n) for n in shape)):
        raise ValueError(f"{path}: tensor {name!r} has shape {shape!r}; a shape is a list of "
                         f"integers >= 0")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise ValueError(f"{path}: tensor {name!r} has data_offsets {offsets!r}; they are two "
                         f"integers >= 0, [begin, end)")


def _check_offsets(path, header, data_length):
    """Every entry well formed, and the offsets tile the data part exactly: no gaps, no
    overlaps, nothing past the end (a truncated file fails here, naming the path)."""
    for name, info in header.items():
        _check_entry(path, name, info)
    position = 0
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        # Python's integers: a shape such as [2**40, 2**40] must not wrap around as int64 does
        expected = math.prod(info["shape"]) * _DTYPES[info["dtype"]].itemsize
        if begin != position or end - begin != expected:
            raise ValueError(f"{path}: tensor {name!r} has data_offsets [{begin}, {end}], but "
                             f"should start at {position} and hold {expected} bytes "
                             f"({info['dtype']} {info['shape']}); the file is corrupt")
        position = end
    if position != data_length:
        state = "truncated" if position > data_length else "longer than its header says"
        raise ValueError(f"{path}: {state}: the header describes {position} bytes of tensor "
                         f"data, the file holds {data_length}")


def _tensor(path, name, info, data):
    begin, end = info["data_offsets"]
    stored = np.frombuffer(data[begin:end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
    if info["dtype"] == "BF16":
        return _widened(stored, "BF16")
    return stored.astype(stored.dtype.newbyteorder("="))    # a native, writable copy


def _widened(stored, dtype_name):
    """A stored array as NumPy can compute with it: BF16's 16-bit words as float32 (new),
    anything else as it is (a view)."""
    if dtype_name == "BF16":
        return bfloat16_to_float32(stored)
    return stored


def bfloat16_to_float32(words):
    """The float32 values of bfloat16 numbers given as their raw 16-bit words.

    words: a uint16 array of any shape (0-d and empty included), possibly a read-only or
    non-contiguous view of a file's bytes; it is left as it is. Returns a new, writable float32
    array of the same shape holding exactly the numbers the words encode: bfloat16 is the top
    half of a float32 (the same sign bit and 8 exponent bits, 7 of the 23 mantissa bits), so
    word w is the float32 whose bits are w followed by 16 zero bits. Every word converts
    exactly, signed zeros, subnormals, infinities and NaNs included.
    """
    # BEGIN EXERCISE bfloat16_to_float32: widen to uint32, shift left by 16, view the bits as float32
    widened = words.astype(np.uint32)
    widened <<= 16                         # in place: no second array of the tensor's size
    return widened.view(np.float32)
    # END EXERCISE bfloat16_to_float32


def float32_to_bfloat16(values):
    """The bfloat16 words (uint16, the same shape) of the numbers nearest to float32 `values`:
    the top 16 bits of each, rounded to nearest with ties to even, as PyTorch's
    tensor.to(torch.bfloat16) rounds. Values beyond bfloat16's largest round to infinity, as
    float32's do; a NaN stays a NaN (made quiet, so that dropping its low bits cannot turn it
    into an infinity)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    # Adding just under half of the dropped range, plus the last kept bit, then dropping the low
    # 16 bits rounds to nearest, ties to even. It cannot overflow: only NaNs lie that high.
    rounded = ((bits + (0x7FFF + ((bits >> 16) & 1))) >> 16).astype(np.uint16)
    nan = np.isnan(bits.view(np.float32))
    if nan.any():
        rounded[nan] = (bits[nan] >> 16).astype(np.uint16) | 0x0040
    return rounded
