"""examples/16_positions.py in fast mode: learned, sinusoidal and rotary positions, and the
numbers that show rotary scores depend on the distance only."""
import re

import numpy as np


def test_16_positions_shows_each_kind_and_the_relative_property(run_example, section,
                                                                number_after):
    result = run_example("16_positions.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    T, C, D = 9, 12, 6                                     # all different
    assert f"wpe ({T}, {C}): row t is added to the token at position t" in lines
    # sinusoidal: dot products constant along diagonals, rows 0 and 1 as sin/cos
    sinusoidal = section(lines, 2)
    spread = re.search(r"dot products is (\S+)$",
                       next(line for line in sinusoidal if "depends only on k" in line))
    assert float(spread[1]) < 1e-12
    assert "PE[0, :6] = [ 0.000  1.000  0.000  1.000  0.000  1.000]  (sin 0 = 0, cos 0 = 1)" \
        in sinusoidal
    row1 = [float(v) for v in re.search(r"PE\[1, :6\] = \[(.*)\]", "\n".join(sinusoidal))[1].split()]
    np.testing.assert_allclose(row1[:2], [np.sin(1.0), np.cos(1.0)], atol=1e-3)
    # rotary: lengths kept, diagonals constant, equal scores at equal distances
    rotary = section(lines, 3)
    lengths = re.search(r"\|q\| = (\S+), at every position (\S+) to (\S+)",
                        "\n".join(rotary)).groups()
    assert len({float(v) for v in lengths}) == 1
    spread = re.search(r"along any diagonal is (\S+) \(the angles are float32\)",
                       "\n".join(rotary))
    assert float(spread[1]) < 1e-6
    start = next(i for i, line in enumerate(rotary) if line.startswith("scores q_m . k_n"))
    matrix = np.array([[float(v) for v in line.strip(" []").split()]
                       for line in rotary[start + 1:start + 7]])
    for offset in range(-5, 6):
        assert np.ptp(np.diagonal(matrix, offset)) <= 1e-3
    same = re.search(r"q at 2, k at 0: (\S+);  q at (\d+), k at (\d+): (\S+)", "\n".join(rotary))
    assert same[1] == same[4] and int(same[2]) - int(same[3]) == 2
    # llama3 scaling: the fast pair kept, the slow ones 8 times slower
    scaling = section(lines, 4)
    ratios = [float(line.split()[-1]) for line in scaling if re.match(r" +\d+ ", line)]
    assert len(ratios) == D // 2 and ratios[0] == 1.0 and ratios[-1] == 8.0
    # in a model: only learned positions have parameters
    model = section(lines, 5)
    assert any(line.startswith("learned") and "['transformer.wpe.weight']" in line
               for line in model)
    assert sum("position parameters: none" in line for line in model) == 2
