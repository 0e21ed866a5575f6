"""examples/12_load_gpt2.py loads gpt2-tiny in fast mode and prints what a learner should see."""
import json


def text_after(lines, header_start):
    """The text printed as '  | ' lines after the first line that starts with header_start."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    start = lines.index("text:", start)
    text_lines = []
    for line in lines[start + 1:]:
        if not line.startswith("  | "):
            break
        text_lines.append(line[4:])
    return "\n".join(text_lines)


def test_12_load_gpt2_loads_gpt2_tiny_and_generates_the_reference_text(shared_data, run_example):
    # the example finds ../shared/data/gpt2-tiny by itself; the fixture makes sure it is there
    reference = json.loads((shared_data / "gpt2-tiny" / "reference.json").read_text())
    result = run_example("12_load_gpt2.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()

    assert lines[0] == "== 1. the checkpoint in gpt2-tiny/ =="
    assert any(line.split()[0] == "model.safetensors" for line in lines[1:8])
    # the architecture: the repr with its sizes, and the parameter count
    assert lines[lines.index("== 2. the architecture ==") + 1].startswith(
        "GPT(vocab_size=512, block_size=128, n_layer=2, n_head=4, n_embd=64,")
    assert "          (c_attn): Linear(in_features=64, out_features=192, bias=True)" in lines
    assert "parameters: 141,056 (132,864 without the position embeddings)" in lines
    assert "tokenizer: HFTokenizer(vocab_size=512, merges=255, special_tokens=1, " \
           "ignore_merges=False); special tokens {'<|endoftext|>': 0}" in lines

    # the prompt's ids are HF's, and the pieces spell the prompt
    assert f"prompt: {reference['prompt']!r}" in lines
    assert f"ids:    {reference['prompt_ids']}" in lines
    assert 'pieces: "R" | "O" | "M" | "E" | "O" | ":" | "\\n" | "What" | " li" | "ght"' in lines

    # the most likely next token is the first token of HF's greedy continuation
    first_new = reference["greedy_ids"][len(reference["prompt_ids"])]
    top = lines[lines.index("== 4. the next token: the model's distribution after the prompt ==")
                + 2]
    assert top.startswith(f"  1. id {first_new:5}  ")
    probabilities = [float(line.rsplit("p = ", 1)[1]) for line in lines if "p = " in line]
    assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)

    # greedy: the ids and the text are the start of what HF transformers generates
    assert "== 5. greedy: the most likely token, 20 times ==" in lines
    n_prompt = len(reference["prompt_ids"])
    assert f"new ids: {reference['greedy_ids'][n_prompt:n_prompt + 20]}" in lines
    greedy_text = text_after(lines, "== 5. greedy")
    assert len(greedy_text) > len(reference["prompt"]) + 20
    assert reference["greedy_text"].startswith(greedy_text)

    # sampling continues the prompt and is reproducible with a seed
    sample_text = text_after(lines, "== 6. sampling")
    assert sample_text.startswith(reference["prompt"]) and sample_text != greedy_text
    assert "the same seed gives the same tokens: True" in lines
    assert lines[-1] == "another seed, another text: True"


def test_12_load_gpt2_says_so_in_one_line_when_the_directory_is_missing(tmp_path, run_example):
    result = run_example("12_load_gpt2.py", tmp_path / "no-such-checkpoint", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "no-such-checkpoint" in result.stderr
