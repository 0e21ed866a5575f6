"""examples/21_int8.py runs in fast mode: a row quantised by hand within half a step, the
weights' bytes of both checkpoints, small logit deviations, the held-out loss within 0.01
nats, and the speed printed (never asserted)."""
import re


def test_21_int8_memory_error_loss_and_speed(run_example, section):
    result = run_example("21_int8.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()

    row = section(lines, 1)
    weights = [float(x) for x in row[1][len("weights  ["):row[1].index("]")].split()]
    scale = float(re.match(r"scale +(\S+) = max \|w\| / 127", row[2])[1])
    codes = [int(x) for x in row[3][len("codes    ["):row[3].index("]")].split()]
    restored = [float(x) for x in row[4][len("restored ["):row[4].index("]")].split()]
    assert len(weights) == len(codes) == len(restored) == 6
    largest = float(re.search(r"max \|w\| (\S+)\)", row[1])[1])
    assert abs(scale - largest / 127) < 1e-6
    for w, q, r in zip(weights, codes, restored):
        assert q == round(w / scale) and abs(r - q * scale) < 1e-4
        assert abs(r - w) <= scale / 2 + 1e-4
    assert row[5].endswith(": True")

    memory = section(lines, 2)
    table = {m[1]: m for m in (re.fullmatch(r"(\S+) +([\d,]+) +([\d,]+) +(\S+)  (\d+)", line)
                               for line in memory[2:4]) if m}
    assert set(table) == {"gpt2-tiny", "llama-tiny"}
    for name, m in table.items():
        full, small = int(m[2].replace(",", "")), int(m[3].replace(",", ""))
        assert abs(float(m[4]) - full / small) < 0.01 and 3.0 < full / small < 4.0
    assert table["gpt2-tiny"][2] == "564,224"                   # 141,056 float32 parameters
    assert int(table["gpt2-tiny"][5]) == 2 * 4 + 1              # 4 Linears per block + wte
    assert int(table["llama-tiny"][5]) == 2 * 5 + 2             # 5 per block, wte, lm_head

    logits = section(lines, 3)
    for line in logits[1:3]:
        deviation = float(re.search(r"largest logit deviation (\S+)", line)[1])
        assert 0 < deviation < 0.5

    loss = section(lines, 4)
    assert loss[0] == "== 4. loss on held-out Shakespeare (the last 10%), 24 windows of 64 " \
                      "predictions =="
    for line in loss[1:3]:
        found = re.search(r"float32 (\S+)  int8 (\S+)  change (\S+) nats", line)
        full, small, change = map(float, found.groups())
        assert abs(small - full - change) < 2e-4 and abs(change) < 0.01 and 1.0 < full < 5.0

    speed = section(lines, 5)
    assert re.fullmatch(r"float32 +\d+\.\d tokens/s", speed[1])
    assert re.fullmatch(r"int8 +\d+\.\d tokens/s", speed[2])
