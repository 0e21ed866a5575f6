"""examples/11_kv_cache.py runs in fast mode: the cache grows one position per step, holds
what a full pass computes, and generation gives the same tokens with and without it."""
import ast
import re


def test_11_kv_cache_grows_is_exact_and_gives_the_same_tokens(run_example, number_after):
    result = run_example("11_kv_cache.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    n_layer, H, block_size, D, V, T0, steps = 2, 4, 40, 12, 65, 5, 6    # all distinct
    assert f"prompt: {[[55, 41, 33, 17, 20]]} (B, T0) = (1, {T0})" in lines
    assert f"cache.keys ({n_layer}, 1, {H}, {block_size}, {D}) = (n_layer, B, H, max_length, " \
           "D), float32; cache.values the same" in lines
    assert f"both preallocated: {2 * n_layer * H * block_size * D * 4:,} bytes; " \
           "cache.length = 0" in lines

    # one row per step: the prompt first, then one position at a time
    start = lines.index("step  fed      cache.length  filled keys          logits       picture")
    rows = [re.fullmatch(r" +(\d+)  (\(.*?\)) +(\d+)  (\(.*?\)) +(\(.*?\)) +\[([#.]+)\]", line)
            for line in lines[start + 1:start + 2 + steps]]
    assert all(rows)
    for step, row in enumerate(rows):
        fed = T0 if step == 0 else 1
        length = T0 + step
        assert int(row[1]) == step
        assert ast.literal_eval(row[2]) == (1, fed)
        assert int(row[3]) == length
        assert ast.literal_eval(row[4]) == (n_layer, 1, H, length, D)
        assert ast.literal_eval(row[5]) == (1, fed, V)
        assert row[6] == "#" * length + "." * (T0 + steps - length)
    generated = ast.literal_eval(lines[start + 2 + steps][len("generated: "):])
    assert len(generated) == steps and all(0 <= t < V for t in generated)
    assert "model.generate(prompt, 6, seed=0), the same loop, gives the same tokens: True" in lines

    # the cache holds what one full pass computes (to float32 rounding)
    assert number_after(lines, "keys, filled one position at a time vs in one pass: "
                               "max |difference|") < 1e-5
    assert number_after(lines, "the last step's logits vs the full pass's last row: "
                               "max |difference|") < 1e-5

    # the work saved, counted; the time measured (printed, never asserted: tests do not time)
    new_tokens = 48
    assert f"== 4. {new_tokens} new tokens, sampled with seed 0, with and without the cache ==" \
        in lines
    without = sum(T0 + n for n in range(new_tokens))
    with_ = T0 + new_tokens - 1
    assert f"positions run through the model: without the cache {without:,}, with it " \
           f"{with_:,} ({without / with_:.1f} x fewer)" in lines
    # Times are printed, never related to each other here: on a fast machine the cached run
    # takes ~0.02 s, so the printed (rounded) seconds cannot reproduce the printed rate.
    for name in ("without the cache:", "with the cache:   "):
        line = next(line for line in lines if line.startswith(name))
        assert re.fullmatch(re.escape(name) + r" +\d+\.\d{3} s, +\d+\.\d tokens/s", line), line
    assert re.fullmatch(r"the cache is \d+\.\d x faster on this machine, now",
                        next(line for line in lines if line.startswith("the cache is")))
    assert sum(line.startswith(("(less than the positions saved", "(more than the positions saved"))
               for line in lines) == 1
    assert f"both give the same {T0 + new_tokens} tokens: True" in lines
    last = ast.literal_eval(lines[-1][len("the last ten: "):])
    assert len(last) == 10 and all(0 <= t < V for t in last)
