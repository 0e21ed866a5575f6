"""examples/18_load_open_model.py in fast mode: llama-tiny, and two fixtures of other families
(Qwen3 in f16 shards, a tied Llama 3 in bf16), read, checked against transformers, run."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def check_run(lines, section, directory):
    reference = json.loads((directory / "reference.json").read_text())
    config = json.loads((directory / "config.json").read_text())
    files = [line.split()[0] for line in section(lines, 1)[1:] if line.strip()]
    assert files == sorted(p.name for p in directory.iterdir() if p.is_file())
    keys = {line.split()[0]: line.split("->")[1].strip() for line in section(lines, 2)
            if "->" in line}
    assert keys["hidden_size"] == f"n_embd = {config['hidden_size']}"
    assert keys["num_key_value_heads"] == f"n_kv_head = {config['num_key_value_heads']}"
    weights = section(lines, 3)
    c_attn = next(line for line in weights if line.strip().startswith("attn.c_attn.weight"))
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_size = config.get("head_dim", config["hidden_size"] // heads)
    rows = [int(r) for r in re.findall(r"_proj\.weight \((\d+),", c_attn)]
    assert rows == [heads * head_size, kv_heads * head_size, kv_heads * head_size]
    assert f"({sum(rows)}, {config['hidden_size']})" in c_attn
    # bfloat16 rounding of four float32 weights: within half a unit in the 8th bit
    change = float(re.search(r"largest relative change: (\S+)", "\n".join(weights))[1])
    assert 0.0 <= change <= 2.0 ** -8
    tokens = section(lines, 4)
    ids = json.loads(next(line for line in tokens if line.startswith("ids:"))[4:])
    assert ids == reference["prompt_ids"]
    assert "the ids transformers' AutoTokenizer gave: the same: True" in tokens
    probs = [float(line.split("p = ")[1]) for line in section(lines, 5) if "p = " in line]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True)
    logits = np.array(reference["logits"], dtype=np.float32)
    assert int(re.search(r"id +(\d+)", section(lines, 5)[1])[1]) == int(logits[-1].argmax())
    next_token = "\n".join(section(lines, 5))
    difference = float(re.search(r"at all \d+ positions: (\S+)", next_token)[1])
    assert difference < 1e-4
    greedy = section(lines, 6)
    new = json.loads(next(line for line in greedy if line.startswith("new ids:"))[8:])
    assert new == reference["greedy_ids"][len(ids):len(ids) + len(new)]
    assert "transformers' greedy continuation starts the same: True" in greedy
    n = int(section(lines, 8)[1].split()[0].replace(",", ""))
    assert section(lines, 8)[1] == (f"{n:,} parameters: {4 * n:,} bytes in float32 here, "
                                    f"{2 * n:,} in bfloat16")
    return config


def test_18_loads_llama_tiny_and_matches_transformers(run_example, section, shared_data):
    result = run_example("18_load_open_model.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    check_run(lines, section, shared_data / "llama-tiny")
    assert "stored as F32, held as float32" in result.stdout
    assert "around every text: InputTemplate(before=(510,), after=())" in lines
    sampled = section(lines, 7)
    assert sampled[0].startswith("== 7. sampling as generation_config.json says "
                                 "(temperature 0.6, top-p 0.9)")


@pytest.mark.parametrize("name, stored", [("qwen3-sharded-f16", "F16"),
                                          ("llama3-rope-scaled-tied", "BF16")])
def test_18_reads_other_families_and_dtypes(run_example, section, name, stored):
    directory = ROOT / "tests" / "fixtures" / "hf" / name
    result = run_example("18_load_open_model.py", directory)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    config = check_run(lines, section, directory)
    assert f"stored as {stored}, held as float32" in result.stdout
    if stored == "BF16":                                 # bf16 values round to themselves
        assert "largest relative change: 0.0e+00" in result.stdout
    if config.get("tie_word_embeddings"):
        assert "a tied head" in "\n".join(section(lines, 2))
