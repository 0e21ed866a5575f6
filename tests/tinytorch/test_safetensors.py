"""The safetensors reader and writer against the format spec, hand-built files and gpt2-tiny."""
import json
import struct

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.safetensors import (bfloat16_to_float32, float32_to_bfloat16, load_file,
                                  read_metadata, save_file)


def build_file(path, header, data):
    """A safetensors file assembled by hand from the spec: u64 length, JSON, raw bytes."""
    header_bytes = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + data)
    return path


def test_exported_from_the_package():
    assert tt.safetensors.load_file is load_file


def test_writer_bytes_match_the_spec_by_hand(tmp_path):
    # The reference crate's own test tensor, attn.0 = [0, 1, 2, 3, 4, 5] as F32 (1, 2, 3), plus
    # the {"format": "pt"} metadata we always write. The header is compact JSON with
    # __metadata__ first, padded with spaces to a multiple of 8.
    path = tmp_path / "a.safetensors"
    save_file({"attn.0": np.arange(6, dtype=np.float32).reshape(1, 2, 3)}, path)
    header = (b'{"__metadata__":{"format":"pt"},'
              b'"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}')
    assert len(header) == 95                      # so 1 space makes it 96 = 12 * 8
    data = bytes([0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64])
    assert path.read_bytes() == struct.pack("<Q", 96) + header + b" " + data


def test_layout_sorted_by_dtype_alignment_then_name(tmp_path):
    # The reference writer puts wider dtypes first (I64, F64, F32, F16 here), names ascending
    # within a dtype, whatever the dict's order; the header lists them in that order too.
    path = tmp_path / "order.safetensors"
    tensors = {"b": np.ones(3, np.float32), "z": np.ones(1, np.float16), "a": np.ones(2, np.float32),
               "y": np.arange(2), "x": np.ones(1, np.float64)}
    save_file(tensors, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert list(header) == ["__metadata__", "y", "x", "a", "b", "z"]
    assert [header[k]["data_offsets"] for k in ["y", "x", "a", "b", "z"]] == \
        [[0, 16], [16, 24], [24, 32], [32, 44], [44, 46]]
    assert (8 + n) % 8 == 0 and raw[8 + n - 1:8 + n] in (b" ", b"}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 0, 4), (1, 2, 3, 2)])
def test_round_trip_per_dtype(tmp_path, dtype, shape):
    values = np.random.default_rng(0).standard_normal(shape) * 1000
    array = values.astype(dtype)
    path = tmp_path / "t.safetensors"
    save_file({"t": array}, path)
    back = load_file(path)["t"]
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()
    assert back.flags.writeable


def test_non_contiguous_and_big_endian_arrays_are_written_row_major_little_endian(tmp_path):
    path = tmp_path / "t.safetensors"
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_file({"t": matrix.T, "b": np.array([1.5, -2.0], dtype=">f8")}, path)
    back = load_file(path)
    assert back["t"].tolist() == [[0, 3], [1, 4], [2, 5]]
    assert back["b"].dtype == np.float64 and back["b"].tolist() == [1.5, -2.0]
    # F64 sorts before F32, so b's 16 bytes start the data part, little-endian.
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert raw[8 + n:8 + n + 16] == struct.pack("<2d", 1.5, -2.0)


def test_bf16_is_read_as_float32_by_hand_values(tmp_path):
    # bfloat16 is the top 16 bits of a float32: 0x3F80 -> 0x3F800000 = 1.0,
    # 0xC000 -> -2.0, 0x4049 -> 0x40490000 = 3.140625, 0x3E80 -> 0.25, 0x7F80 -> inf,
    # 0x0001 -> 0x00010000 = 2**-133 (a float32 subnormal), 0x8000 -> -0.0
    words = [0x3F80, 0xC000, 0x4049, 0x3E80, 0x7F80, 0x0001, 0x8000]
    path = build_file(tmp_path / "bf16.safetensors",
                      {"w": {"dtype": "BF16", "shape": [7], "data_offsets": [0, 14]}},
                      struct.pack("<7H", *words))
    w = load_file(path)["w"]
    assert w.dtype == np.float32
    assert w.tolist() == [1.0, -2.0, 3.140625, 0.25, float("inf"), 2.0 ** -133, -0.0]
    assert np.signbit(w[6])


def test_read_into_converts_each_dtype_straight_into_the_target(tmp_path):
    """TensorFile.read_into fills a parameter's rows, or a transposed view of it, with the
    values load_file gives: BF16 words widened in the target's own bits, F16 and F64 cast."""
    from tinytorch.safetensors import TensorFile
    words = [0x3F80, 0xC000, 0x4049, 0x3E80, 0x7F80, 0x0001]
    halves = np.array([[0.5, -1.25, 3.0], [65504.0, -0.0, 1e-7]], np.float16)
    wide = np.array([1.5, 1e300], np.float64)
    header = {"b": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
              "h": {"dtype": "F16", "shape": [2, 3], "data_offsets": [12, 24]},
              "d": {"dtype": "F64", "shape": [2], "data_offsets": [24, 40]}}
    path = build_file(tmp_path / "mixed.safetensors", header,
                      struct.pack("<6H", *words) + halves.tobytes() + wide.tobytes())
    expected = load_file(path)
    with TensorFile(path) as tensors:
        target = np.full((5, 3), 9.0, np.float32)
        tensors.read_into("b", target[1:3])                     # rows 1 and 2 of a parameter
        np.testing.assert_array_equal(target[1:3], expected["b"])
        assert (target[[0, 3, 4]] == 9.0).all()                 # the other rows untouched
        transposed = np.zeros((3, 2), np.float32)
        tensors.read_into("h", transposed.T)                     # a Conv1D-style (in, out)
        np.testing.assert_array_equal(transposed.T, halves.astype(np.float32))
        tensors.read_into("b", transposed.T)                     # BF16 into a strided view
        np.testing.assert_array_equal(transposed.T, expected["b"])
        narrow = np.zeros(2, np.float32)
        tensors.read_into("d", narrow)
        assert narrow.tolist() == [1.5, float("inf")]            # beyond float32: inf
        with pytest.raises(ValueError, match=r"mixed.safetensors: tensor 'h' has shape "
                                             r"\(2, 3\), not \(3, 2\)"):
            tensors.read_into("h", transposed)


def test_reads_integer_and_bool_dtypes_from_a_hand_built_file(tmp_path):
    header = {
        "__metadata__": {"note": "by hand"},
        "i32": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]},
        "u8": {"dtype": "U8", "shape": [3], "data_offsets": [8, 11]},
        "ok": {"dtype": "BOOL", "shape": [2], "data_offsets": [11, 13]},
    }
    data = struct.pack("<2i", -7, 65536) + bytes([0, 200, 255]) + bytes([1, 0])
    path = build_file(tmp_path / "ints.safetensors", header, data)
    tensors = load_file(path)
    assert tensors["i32"].dtype == np.int32 and tensors["i32"].tolist() == [-7, 65536]
    assert tensors["u8"].dtype == np.uint8 and tensors["u8"].tolist() == [0, 200, 255]
    assert tensors["ok"].dtype == np.bool_ and tensors["ok"].tolist() == [True, False]
    assert read_metadata(path) == {"note": "by hand"}


def test_metadata_always_has_format_pt(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"t": np.zeros(1, np.float32)}, path)
    assert read_metadata(path) == {"format": "pt"}
    save_file({"t": np.zeros(1, np.float32)}, path, metadata={"source": "tinytorch"})
    assert read_metadata(path) == {"format": "pt", "source": "tinytorch"}
    with pytest.raises(TypeError, match="str to str"):
        save_file({"t": np.zeros(1, np.float32)}, path, metadata={"n": 3})


def test_unsupported_dtype_for_writing_is_named(tmp_path):
    with pytest.raises(TypeError, match="'ids' is int32"):
        save_file({"ids": np.zeros(2, np.int32)}, tmp_path / "x.safetensors")


def test_write_read_write_is_byte_identical(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"layer.weight": rng.standard_normal((4, 3)).astype(np.float32),
               "layer.bias": rng.standard_normal(4).astype(np.float16),
               "steps": np.arange(5), "scale": np.float64(0.5) * np.ones(())}
    first, second = tmp_path / "1.safetensors", tmp_path / "2.safetensors"
    save_file(tensors, first, metadata={"step": "10"})
    save_file(load_file(first), second, metadata=read_metadata(first))
    assert first.read_bytes() == second.read_bytes()


def test_truncated_file_names_the_path(tmp_path):
    path = tmp_path / "cut.safetensors"
    save_file({"t": np.ones((4, 4), np.float32)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])
    with pytest.raises(ValueError, match=r"cut\.safetensors.*truncated"):
        load_file(path)
    path.write_bytes(raw[:20])                  # the header itself is cut
    with pytest.raises(ValueError, match=r"cut\.safetensors.*truncated"):
        load_file(path)
    path.write_bytes(raw[:5])
    with pytest.raises(ValueError, match=r"cut\.safetensors.*not a safetensors file"):
        load_file(path)


def test_corrupt_header_names_the_path(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 8) + b"{not js}")
    with pytest.raises(ValueError, match=r"bad\.safetensors.*not valid JSON"):
        load_file(path)
    path.write_bytes(struct.pack("<Q", 2 ** 40) + b"{}")
    with pytest.raises(ValueError, match=r"bad\.safetensors.*implausible"):
        load_file(path)
    build_file(path, {"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4))
    with pytest.raises(ValueError, match=r"bad\.safetensors.*'t'.*should start at 0 and hold 8"):
        load_file(path)
    build_file(path, {"t": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 1]}}, bytes(1))
    with pytest.raises(ValueError, match=r"bad\.safetensors.*'Q7'"):
        load_file(path)


@pytest.mark.parametrize("entry, fragment", [
    ({"dtype": "F32", "shape": [True, 2], "data_offsets": [0, 8]}, "shape \\[True, 2\\]"),
    ({"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}, "shape \\[2.0\\]"),
    ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "shape \\[-2\\]"),
    ({"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}, "shape '2'"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, True]}, "data_offsets \\[0, True\\]"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}, "data_offsets"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 9]}, "data_offsets"),
    ({"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}, "dtype \\['F32'\\]"),
    ({"dtype": "F32", "shape": [2]}, "data_offsets None"),
    # 2**62 * 2**62 * 4 bytes wraps to 0 in int64 arithmetic: it must not pass as 0 bytes
    ({"dtype": "F32", "shape": [2 ** 62, 2 ** 62, 0 + 1], "data_offsets": [0, 0]},
     "hold 85070591730234615865843651857942052864 bytes"),
    ({"dtype": "F32", "shape": [2 ** 64], "data_offsets": [0, 8]}, "should start at 0 and hold"),
])
def test_a_malformed_entry_names_the_file_and_the_tensor(tmp_path, entry, fragment):
    path = build_file(tmp_path / "odd.safetensors", {"w.weight": entry}, bytes(8))
    with pytest.raises(ValueError, match=rf"odd\.safetensors: .*'w\.weight'.*{fragment}"):
        load_file(path)


def test_an_entry_that_is_not_an_object_and_bad_metadata_are_named(tmp_path):
    path = build_file(tmp_path / "odd.safetensors", {"w": [1, 2]}, b"")
    with pytest.raises(ValueError, match=r"odd\.safetensors: the header entry for 'w'"):
        load_file(path)
    path = build_file(tmp_path / "odd.safetensors", {"__metadata__": {"step": 3}}, b"")
    for read in (load_file, read_metadata):
        with pytest.raises(ValueError, match=r"odd\.safetensors: __metadata__ must map"):
            read(path)


def test_reads_gpt2_tiny(shared_data):
    path = shared_data / "gpt2-tiny" / "model.safetensors"
    tensors = load_file(path)
    assert tensors["transformer.wte.weight"].shape == (512, 64)
    assert tensors["transformer.wpe.weight"].shape == (128, 64)
    assert tensors["transformer.h.0.attn.c_attn.weight"].shape == (64, 192)   # Conv1D (in, out)
    assert tensors["transformer.h.1.mlp.c_proj.weight"].shape == (256, 64)
    assert len(tensors) == 2 * 12 + 4
    assert all(t.dtype == np.float32 for t in tensors.values())
    assert read_metadata(path) == {"format": "pt"}
    ln = tensors["transformer.ln_f.weight"]
    assert np.all(np.isfinite(ln)) and ln.std() > 0.0      # trained: not the ones of init


def test_resaving_gpt2_tiny_reproduces_the_file(shared_data, tmp_path):
    # Same keys, dtypes, shapes, bytes and metadata; with the reference's ordering the whole
    # file comes out byte for byte.
    path = shared_data / "gpt2-tiny" / "model.safetensors"
    copy = tmp_path / "model.safetensors"
    save_file(load_file(path), copy, metadata=read_metadata(path))
    assert copy.read_bytes() == path.read_bytes()


# ----- writing bfloat16 --------------------------------------------------------------------------

def test_float32_to_bfloat16_rounds_to_nearest_with_ties_to_even_by_hand():
    # 1 + 2^-8 lies halfway between bfloat16's 1.0 (0x3F80) and 1 + 2^-7 (0x3F81): to even,
    # 0x3F80; 1 + 3 * 2^-8 halfway between 0x3F81 and 0x3F82: to even, 0x3F82
    values = np.array([1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -8 + 2 ** -20,
                       -2.0, -0.0, np.inf, -np.inf, 3.4028235e38, -3.4028235e38, 2.0 ** -133],
                      dtype=np.float32)
    assert [hex(w) for w in float32_to_bfloat16(values)] == [
        "0x3f80", "0x3f80", "0x3f82", "0x3f81", "0xc000", "0x8000", "0x7f80", "0xff80",
        "0x7f80", "0xff80", "0x1"]             # float32's largest is past bfloat16's: inf


def test_every_bfloat16_value_converts_back_to_its_own_word_and_nans_stay_nans():
    words = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16)
    values = bfloat16_to_float32(words)
    back = float32_to_bfloat16(values)
    nan = np.isnan(values)
    np.testing.assert_array_equal(back[~nan], words[~nan])
    assert np.isnan(bfloat16_to_float32(back[nan])).all()
    # a NaN whose top 16 bits alone would read as infinity stays a NaN
    assert np.isnan(bfloat16_to_float32(float32_to_bfloat16(
        np.array([0x7F800001], np.uint32).view(np.float32))))


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4, 5)])
def test_bfloat16_rounding_is_within_half_a_unit_in_the_last_place(shape):
    values = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32) * 50
    rounded = bfloat16_to_float32(float32_to_bfloat16(values))
    assert rounded.shape == shape and rounded.dtype == np.float32
    assert np.all(np.abs(rounded - values) <= np.abs(values) * 2.0 ** -8)
    transposed = values.T if values.ndim > 1 else values         # a strided view converts too
    np.testing.assert_array_equal(float32_to_bfloat16(transposed),
                                  float32_to_bfloat16(np.ascontiguousarray(transposed)))


def test_save_file_writes_float32_tensors_as_bf16_when_asked(tmp_path):
    weight = np.array([[1.0, 1.0 + 2 ** -8], [-3.0, 0.1]], dtype=np.float32)
    steps = np.array([3, 4], dtype=np.int64)
    save_file({"w": weight, "steps": steps}, tmp_path / "m.safetensors", bfloat16=True)
    raw = (tmp_path / "m.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    assert header["w"] == {"dtype": "BF16", "shape": [2, 2], "data_offsets": [16, 24]}
    assert header["steps"]["dtype"] == "I64"                    # only float32 is rounded
    words = np.frombuffer(raw[8 + length + 16:8 + length + 24], dtype="<u2")
    assert [hex(w) for w in words] == ["0x3f80", "0x3f80", "0xc040", "0x3dcd"]
    loaded = load_file(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded["w"], bfloat16_to_float32(float32_to_bfloat16(weight)))
    np.testing.assert_array_equal(loaded["steps"], steps)
