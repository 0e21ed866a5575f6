"""examples/19_beam_search.py runs in fast mode: beam search finds a likelier continuation than
greedy on its prompt, the step-by-step table is a beam search (sorted sums, reselected beams,
the library's answer at the end), and the length penalty orders short and long lines."""
import re


def test_19_beam_search_prints_beams_scores_and_the_length_penalty(run_example, section):
    result = run_example("19_beam_search.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    K, new_tokens = 3, 8

    first = section(lines, 1)
    assert first[0] == f"== 1. greedy and beam search (K = {K}), {new_tokens} new tokens =="
    assert "gpt2-tiny: 2 layers, vocabulary 512; prompt 'ROMEO:\\n', 7 tokens" in first
    greedy = float(re.search(r"greedy: .*  log-probability (\S+)$", first[2])[1])
    beam = float(re.search(r"beam: .*  log-probability (\S+)$", first[3])[1])
    assert beam > greedy

    steps = section(lines, 2)
    rows = [re.fullmatch(r" +(\d+) +(\d+) +(\d+) +(-?\d+\.\d+)  '(.*)'", line)
            for line in steps[2:2 + K * new_tokens]]
    assert all(rows), steps
    for step in range(1, new_tokens + 1):
        beams = rows[(step - 1) * K:step * K]
        assert [int(r[1]) for r in beams] == [step] * K and [int(r[2]) for r in beams] == [0, 1, 2]
        sums = [float(r[4]) for r in beams]
        assert sums == sorted(sums, reverse=True)                  # best first
        if step == 1:
            assert [int(r[3]) for r in beams] == [0] * K           # only beam 0 is expanded
    best = [float(rows[i * K][4]) for i in range(new_tokens)]
    assert best == sorted(best, reverse=True)                      # sums only fall
    assert any(int(r[3]) != int(r[2]) for r in rows[K:])           # beams were reselected
    assert abs(best[-1] - beam) < 2e-3                             # the beam of section 1
    assert f"the best beam is what model.generate(prompt, {new_tokens}, num_beams={K}) " \
           "returned: True" in steps

    penalties = section(lines, 3)
    table = [re.fullmatch(r" +(\S+) +(\d+) +(\S+) +(\S+)  '(.*)'", line)
             for line in penalties[2:5]]
    assert [float(r[1]) for r in table] == [0.0, 1.0, 2.0]
    lengths = [int(r[2]) for r in table]
    assert lengths[0] < lengths[1] <= lengths[2] <= 20
    for r in table:
        length_penalty, length, summed, score = float(r[1]), int(r[2]), float(r[3]), float(r[4])
        assert abs(score - summed / length ** length_penalty) < 2e-3
    assert table[0][5].endswith("\\n")                             # ended at a newline

    compared = section(lines, 4)
    verdicts = [line for line in compared if line.endswith("is more likely")]
    assert len(verdicts) == 4
    for line in verdicts:
        greedy, beam = map(float, re.search(r"greedy +(\S+)  beam +(\S+)", line).groups())
        assert line.endswith(("beam" if beam > greedy else "greedy") + " is more likely")
    wins = sum(line.endswith("beam is more likely") for line in verdicts)
    assert compared[-1].startswith(f"beam search found the more likely continuation for {wins} "
                                   f"of 4 prompts")
