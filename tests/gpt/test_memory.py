"""Memory estimates: exact parameter counts, hand-computed step sizes, refusals that say what
to lower. Every refusal here is either absurd (beyond any machine) or given `available`."""
import pytest

from gpt import GPT, GPTConfig
from gpt.safeguards.memory import (NotEnoughMemory, activation_floats, available_memory, check_model_fits,
                        check_training_fits, format_bytes, parameter_count, training_bytes)
from gpt.train import TrainConfig

GB = 10 ** 9


@pytest.mark.parametrize("sizes", [(65, 64, 4, 4, 128), (50, 16, 2, 2, 8), (7, 3, 1, 1, 2),
                                   (512, 128, 2, 4, 64)])
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_is_exact(sizes, bias):
    V, T, L, H, C = sizes
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=H, n_embd=C, bias=bias))
    assert parameter_count(V, T, L, C, bias=bias) == model.num_parameters()


def test_step_bytes_by_hand():
    # nanoGPT's CPU Shakespeare: V 65, T 64, L 4, H 4, C 128, B 12; 809,856 parameters
    sizes = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, batch_size=12)
    per_token = 4 * 16 * 128 + 4 * 4 * 64 * 3 // 2 + 3 * 65          # 8192 + 1536 + 195
    assert activation_floats(12, 64, 4, 4, 128, 65) == 12 * 64 * per_token == 7_620_864
    assert training_bytes(sizes) == (16 * 809_856, 4 * 7_620_864)     # 13.0 MB + 30.5 MB


def test_sizes_beyond_floats_range_are_whole_numbers():
    huge = dict(vocab_size=0, block_size=64, n_layer=4, n_head=4, n_embd=128,
                batch_size=10 ** 400)
    assert training_bytes(huge)[1] > 10 ** 400
    assert format_bytes(training_bytes(huge)[1]) == "10^406 bytes"


def test_format_bytes_by_hand():
    assert [format_bytes(n) for n in (0, 999, 1000, 1536, 42.7e6, 24.9e12, 3.5e18)] == \
        ["0 bytes", "999 bytes", "1 KB", "1.54 KB", "42.7 MB", "24.9 TB", "3.5 EB"]


def test_a_step_that_does_not_fit_names_the_setting_raised_above_its_usual_value():
    sizes = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, batch_size=12)
    usual = {name: (f"--{name}", sizes[name]) for name in ("batch_size", "block_size",
                                                             "n_embd", "n_layer")}
    check_training_fits(sizes, usual, available=GB)                  # 43 MB fits in 1 GB
    # 12,500 x 64 tokens x 9,923 floats x 4 bytes = 31.75 GB of activations
    with pytest.raises(NotEnoughMemory, match=r"training needs about 31.8 GB of memory \(weights,"
                                              r" gradients and AdamW's moments 13 MB, "
                                              r"activations 31.8 GB\); this machine has 1 GB "
                                              r"free: lower --batch_size \(at 12 it would need "
                                              r"about 43.4 MB\)"):
        check_training_fits({**sizes, "batch_size": 12_500}, usual, available=GB)
    with pytest.raises(NotEnoughMemory, match=r"lower --n_embd \(at 128"):
        check_training_fits({**sizes, "n_embd": 8192}, usual, available=GB)


def test_without_a_usual_value_the_suggestion_halves():
    config = GPTConfig(vocab_size=1000, block_size=64, n_layer=100, n_head=4, n_embd=512)
    with pytest.raises(NotEnoughMemory, match=r"a GPT with vocab_size=1000, block_size=64, "
                                              r"n_layer=100 and n_embd=512 has 1.26 GB of "
                                              r"float32 weights; this machine has 1 GB free: "
                                              r"lower n_embd \(at 256 it would need about "):
        check_model_fits(config, available=GB)
    check_model_fits(config, available=2 * GB)


def test_an_absurd_model_is_refused_before_anything_is_allocated():
    config = GPTConfig(vocab_size=50257, block_size=1024, n_layer=10 ** 6, n_head=16,
                       n_embd=16384)                       # 3.2 PB of weights
    with pytest.raises(NotEnoughMemory, match="PB of float32 weights.*lower n_embd"):
        GPT(config)


@pytest.mark.parametrize("flag, value", [("batch_size", 10 ** 7), ("n_embd", 10 ** 6),
                                         ("block_size", 10 ** 7), ("n_layer", 10 ** 9)])
def test_an_absurd_training_run_is_refused_naming_its_flag(flag, value):
    with pytest.raises(NotEnoughMemory, match=f"lower --{flag.replace('_', '-')} "):
        TrainConfig(**{flag: value})


def test_available_memory_is_a_byte_count_where_it_can_be_read():
    available = available_memory()
    assert available is None or (isinstance(available, int) and available > 0)


def test_without_meminfo_the_physical_memory_bounds_what_fits(monkeypatch):
    import gpt.safeguards.memory
    monkeypatch.setattr(gpt.safeguards.memory, "_read_meminfo", lambda: {})       # as on macOS
    monkeypatch.setattr(gpt.safeguards.memory, "_read_int", lambda path: None)     # and no cgroup
    assert available_memory() == gpt.safeguards.memory._physical_memory() > 0
    monkeypatch.setattr(gpt.safeguards.memory, "_physical_memory", lambda: None)   # nothing known
    assert available_memory() is None
    check_model_fits(GPTConfig(vocab_size=10 ** 9, block_size=8, n_layer=1, n_head=1,
                               n_embd=10 ** 6))                         # then nothing refused
