"""examples/20_speculative_decoding.py runs in fast mode: one round by hand follows the
acceptance rule and rolls the cache back, greedy speculative output equals the large model's
with a good and with a random draft, and the run lengths, rates and predicted time add up."""
import re


def test_20_speculative_decoding_round_rates_and_exactness(run_example, section):
    result = run_example("20_speculative_decoding.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    k, T0, new_tokens, V = 4, 7, 30, 512

    models = section(lines, 1)
    assert models[1] == "large: gpt2-tiny, 2 layers, 141,056 parameters"
    assert models[2].startswith("draft: its layer 0, embedding, final norm and head: 1 layer, ")

    round_ = section(lines, 2)
    assert round_[1].startswith(f"the large model ran once over {T0 + k} positions; probs "
                                f"({k + 1}, {V}) = (k + 1, V)")
    rows = [re.fullmatch(r" *(\d) +'(.*)' +(\S+) +(\S+) +(\S+)  (accepted|rejected.*)", line)
            for line in round_ if re.match(r" *\d ", line)]
    assert rows and all(rows)
    for row in rows:
        q, p, ratio = float(row[3]), float(row[4]), float(row[5])
        assert abs(p / q - ratio) < 0.02 or q < 0.01
        if ratio >= 1:
            assert row[6] == "accepted"                     # min(1, p/q) = 1: always kept
    assert all(row[6] == "accepted" for row in rows[:-1])     # the first rejection ends it
    n_accepted = sum(row[6] == "accepted" for row in rows)
    made = n_accepted + 1
    assert any(line.startswith(f"this round made {made} tokens for one pass") for line in round_)
    assert f"the large model's cache rolled back from {T0 + k} to {T0 + n_accepted} positions " \
           f"(the prompt and the {n_accepted} accepted; the last kept token is fed next round)" \
        in round_

    greedy = section(lines, 3)
    assert greedy[0] == f"== 3. greedy, {new_tokens} new tokens, {k} drafted per round =="
    for name in ("layer-0 draft", "random draft"):
        (summary,) = [line for line in greedy if line.startswith(name + ":")]
        found = re.fullmatch(name + r": same tokens as greedy: True; (\d+) rounds, acceptance "
                             r"rate (\S+), (\S+) tokens per pass of the large model", summary)
        assert found, summary
        rounds, rate, per_round = int(found[1]), float(found[2]), float(found[3])
        runs = eval(greedy[greedy.index(summary) + 1].split(": ")[1])
        assert len(runs) == k + 1 and sum(runs) == rounds
        accepted = sum(n * count for n, count in enumerate(runs))
        assert abs(per_round - (accepted + rounds) / rounds) < 0.006
        assert abs(rate - accepted / (k * rounds)) < 0.06      # the last round may draft fewer
        if name == "random draft":
            assert rate == 0.0 and rounds == new_tokens
        else:
            assert rate > 0.3 and rounds < new_tokens

    timing = section(lines, 4)
    found = re.match(r"one draft step costs (\S+) of a large step; with (\S+) tokens per round "
                     r"the time should be about (\S+) of plain", timing[1])
    cost, per_round, predicted = map(float, found.groups())
    assert 0 < cost and abs(predicted - (k * cost + 1) / per_round) < 0.02
    assert re.fullmatch(r"measured: speculative / plain time \d+\.\d\d \(below 1 is faster\)",
                        timing[4])

    sampled = section(lines, 5)
    rate = float(re.match(r"acceptance rate (\S+),", sampled[1])[1])
    assert 0.0 < rate <= 1.0
