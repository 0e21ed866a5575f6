"""examples/14_instruction_tuning.py in fast mode: the template, the ids, the shift, the
masks, a loss that falls and a response learned by heart."""
import ast
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/14_instruction_tuning.py"


def test_14_instruction_tuning_shows_template_masks_training_and_an_answer(shared_data, run_example,
                                                                         section):
    result = run_example("14_instruction_tuning.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()

    # 1. the split: 85/5/10 of 1,100 records, most too long for gpt2-tiny's 128 tokens
    assert lines[0] == "== 1. the data: instruction-data.json, split 85/5/10 with seed 123 =="
    counts = {m[1]: (int(m[2]), int(m[3])) for m in
              (re.fullmatch(r"(\w+): (\d+) records fit the context of 128 tokens, (\d+) are "
                            r"longer and dropped", line) for line in section(lines, 1)) if m}
    assert {name: sum(n) for name, n in counts.items()} == \
        {"train": 935, "validation": 55, "test": 110}
    assert all(kept > 0 for kept, _ in counts.values())

    # 2. the template, with its input section, ending in <|endoftext|>
    text = [line[4:] for line in section(lines, 2) if line.startswith("  | ")]
    assert text[0] == ("Below is an instruction that describes a task. Write a response that "
                       "appropriately completes the request.")
    headers = [line for line in text if line.startswith("###")]
    assert headers == ["### Instruction:", "### Input:", "### Response:"]
    assert text[-1].endswith("<|endoftext|>") and text[-2] == "### Response:"
    output = ast.literal_eval(section(lines, 2)[3][len("output: "):])
    assert text[-1] == output + "<|endoftext|>"

    # 3. prompt + response + end-of-text (id 0, read from the tokenizer)
    ids = section(lines, 3)
    prompt_length = int(re.match(r"prompt: +(\d+) tokens", ids[1])[1])
    response_length = int(re.match(r"response: +(\d+) tokens", ids[2])[1])
    assert ids[3] == "end:      <|endoftext|> = id 0"
    assert ids[4] == (f"total:    {prompt_length + response_length + 1} tokens "
                      f"(at most block_size = 128)")

    # 4. the shift, the padding with end-of-text, and which targets are ignored
    batch = section(lines, 4)
    assert "targets[t] == inputs[t + 1] at every real position: True" in batch
    first_end = next(i for i, line in enumerate(batch) if "the first end-of-text: kept" in line)
    assert batch[first_end].split()[2] == "0"                    # its target: end-of-text
    assert batch[first_end + 1].split()[1:] == ["0", "-100", "(ignored)"]   # input: padding
    lengths = [int(n) for n in re.match(r"lengths \[(\d+), (\d+)\]", batch[1]).groups()]
    T = max(lengths) - 1
    short_end = min(lengths) - 1
    assert f"row 1: the targets at positions {short_end}-{T - 1} are ignored (padding after " \
           f"the end-of-text)" in batch
    # with mask_prompt: row 0 is the record of sections 2 and 3; its response is learned
    assert (f"row 0: ignored 0-{prompt_length - 2}; learned {response_length + 1} targets "
            f"(the response's {response_length} tokens and its end-of-text)") in batch
    assert any(re.fullmatch(r"row 1: ignored 0-\d+, " + f"{short_end}-{T - 1}" + r"; learned "
                            r"\d+ targets .*", line) for line in batch)

    # 5. the loss on response tokens falls a long way
    training = section(lines, 5)
    assert training[0] == "== 5. training: 40 steps on 6 records, prompt masked, AdamW lr 0.001 =="
    losses = [float(m[2]) for m in (re.fullmatch(r"step +(\d+): loss on response tokens "
                                                 r"(\d+\.\d+)", line) for line in training) if m]
    assert len(losses) == 5 and losses[-1] == min(losses) and losses[-1] < losses[0] / 10

    # 6. the trained record is answered exactly, stopping at end-of-text
    answer = section(lines, 6)
    expected = next(line for line in answer if line.startswith("expected: "))[len("expected: "):]
    assert f"answer:   {expected}" in answer
    assert "learned by heart: True" in answer
    assert "  | ### Response:" in answer and all("###" not in line for line in answer
                                                 if line.startswith("  answer"))


def test_14_instruction_tuning_says_so_when_the_data_is_missing(tmp_path, run_example):
    # a copy of the example in a tree with no ../shared/data beside it
    copy = tmp_path / "repo" / "examples" / "14_instruction_tuning.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(ROOT / EXAMPLE, copy)
    result = run_example(copy, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "shared" in result.stderr
