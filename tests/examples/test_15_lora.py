"""examples/15_lora.py in fast mode: the counts, the loss falling, a merge that changes nothing."""
import re


def test_15_lora_counts_trains_merges_and_saves(shared_data, run_example):
    result = run_example("15_lora.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()

    # the counts (worked out by hand in tests/gpt/test_lora.py)
    assert lines[0] == "== 1. the pretrained model: gpt2-tiny =="
    assert "before LoRA: 141,056 of 141,056 parameters train (100.00%)" in lines
    assert "after LoRA: 8,192 of 149,248 parameters train (5.49%)" in lines
    assert "after merging: 0 of 141,056 parameters train (0.00%)" in lines
    assert any(re.fullmatch(r" +transformer\.h\.0\.attn\.c_attn\.base\.weight +\(192, 64\) +frozen",
                            line) for line in lines)
    assert any(re.fullmatch(r" +transformer\.h\.0\.attn\.c_attn\.lora_B +\(192, 4\) +trains",
                            line) for line in lines)
    assert "one layer: 64 x 192 = 12,288 frozen weights, and r * (in + out) = " \
           "4 * (64 + 192) = 1,024 that train" in lines

    # training: the logged losses fall, and so does the loss on the fixed windows
    training = [float(m[2]) for m in (re.fullmatch(r"step +(\d+): training loss (\d+\.\d+) "
                                                   r"\(mean of the last 20 steps\)", line)
                                      for line in lines) if m]
    assert len(training) == 3 and training == sorted(training, reverse=True)
    assert training[-1] < training[0] - 0.2
    before = float(next(line for line in lines if line.startswith("loss on 16 fixed windows "
                                                                  "before")).rsplit(" ", 1)[1])
    after = float(next(line for line in lines if line.startswith("loss on the same 16 windows "
                                                                 "after")).rsplit(" ", 1)[1])
    assert after < before - 0.3
    assert any(line.startswith("the frozen weights did not move: True; B moved away from zero")
               for line in lines)

    # merging leaves plain Linears and the same logits up to float32 rounding
    assert "LoRA layers left: 0; c_attn is Linear(in_features=64, out_features=192, " \
           "bias=True) again" in lines
    merge = re.fullmatch(r"merged vs unmerged logits: max abs difference (\S+) \(float32 "
                         r"rounding\)", next(line for line in lines if line.startswith("merged")))
    assert merge and float(merge[1]) < 1e-4

    # the saved checkpoint is an ordinary one and reloads to the same logits
    assert any(line.split()[0] == "model.safetensors" for line in lines if line.strip())
    assert lines[-1] == "reloaded vs merged logits: max abs difference 0.00e+00"
