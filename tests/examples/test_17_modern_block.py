"""examples/17_modern_block.py in fast mode: a GPT-2 block and a Llama block side by side, the
Llama block by hand against gpt/model.py's, and parameter and KV-cache counts of real models."""
import re


def floats_after(lines, words):
    """Every number (such as 4.8e-07) after `words` on the one line that holds them."""
    (line,) = [line for line in lines if words in line]
    return [float(v) for v in re.findall(r"\d\.\de-\d\d", line.split(words, 1)[1])]


def test_17_modern_block_checks_each_part_by_hand_and_counts_real_models(run_example, section):
    result = run_example("17_modern_block.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    B, T, C, H, H_KV = 3, 5, 24, 4, 2                       # all different
    D, F_SWIGLU = C // H, 64                                # 8C/3 = 64, a multiple of 32
    # 1. the per-part counts, from the formulas of each layout
    table = {line.split()[0]: line.split()[1:] for line in section(lines, 1)
             if re.match(r"(ln|attn|mlp|block) ", line)}
    gpt2 = {"ln": 4 * C, "attn": 4 * C * C + 4 * C, "mlp": 8 * C * C + 5 * C}
    llama = {"ln": 2 * C, "attn": C * (H + 2 * H_KV) * D + H * D * C, "mlp": 3 * C * F_SWIGLU}
    gpt2["block"], llama["block"] = sum(gpt2.values()), sum(llama.values())
    for part in gpt2:
        assert [int(v.replace(",", "")) for v in table[part]] == [gpt2[part], llama[part]], part
    assert "  mlp.c_gate.weight      (64, 24)       1,536" in section(lines, 1)
    # 2-5. every hand computation agrees with the library to float32's precision
    for number, words in ((2, "by hand vs the modules:"), (3, "by hand vs the module:"),
                          (4, "vs the module:"), (5, "by hand vs gpt/model.py's Block:")):
        differences = floats_after(section(lines, number), words)
        assert differences and max(differences) < 1e-5, (number, differences)
    norms = section(lines, 2)
    stats = re.search(r"LayerNorm's mean ([-+]\S+), rms (\S+); RMSNorm's mean ([-+]\S+), "
                      r"rms (\S+)", "\n".join(norms)).groups()
    assert abs(float(stats[0])) < 1e-4 and float(stats[1]) == float(stats[3]) == 1.0
    assert abs(float(stats[2])) > 0.05                   # the offset survives RMSNorm
    mlp = section(lines, 3)
    assert f"parameters: GELU 2 x C x {4 * C} = {8 * C * C:,}; SwiGLU 3 x C x {F_SWIGLU} = " \
           f"{3 * C * F_SWIGLU:,}" in "\n".join(mlp)
    attention = "\n".join(section(lines, 4))
    assert "0 -> 0, 1 -> 0, 2 -> 1, 3 -> 1" in attention
    assert f"{2 * H_KV * D * 4} bytes per token and layer in float32, where {H} heads would " \
           f"take {2 * H * D * 4}" in attention
    assert f"block output ({B}, {T}, {C})" in "\n".join(section(lines, 5))
    # 6. the sizes Hugging Face gives for these checkpoints (Qwen3 0.6B's head, tied, counted
    # once: its card says 0.44B without the 155.6M embedding), and k and v of each layer in bf16
    real = {line[:12].strip(): line[12:].split() for line in section(lines, 6)[2:6]}
    published = {"GPT-2 small": 124_439_808, "Llama 2 7B": 6_738_415_616,
                 "Llama 3 8B": 8_030_261_248, "Qwen3 0.6B": 596_049_920}
    shapes = {"GPT-2 small": (12, 12, 64, 1024), "Llama 2 7B": (32, 32, 128, 4096),
              "Llama 3 8B": (32, 8, 128, 8192), "Qwen3 0.6B": (28, 8, 128, 40960)}
    for name, count in published.items():
        n_layer, n_kv_head, head_size, context = shapes[name]
        per_token = 2 * n_layer * n_kv_head * head_size * 2
        assert int(real[name][0].replace(",", "")) == count, name
        assert real[name][4] == f"{per_token // 1024:,}", name
        assert real[name][6] == f"{per_token * context // 2 ** 20:,}", name
    assert "19% more parameters than Llama 2 7B" in lines[-1] and "but 25% of its KV" in lines[-1]
