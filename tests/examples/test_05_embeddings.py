"""examples/05_embeddings.py runs in fast mode and prints what a learner should see."""
import ast
import math
import re

import numpy as np


def neighbours(lines):
    """{query: [(token, similarity), ...]} from the lines '   " his" (id 348) nearest: ...'."""
    found = {}
    for line in lines:
        m = re.fullmatch(r' *(".*?") \(id +\d+\) nearest: (.*)', line)
        if m:
            pairs = re.findall(r'(".*?") (-?\d\.\d{3})', m[2])
            found[ast.literal_eval(m[1])] = [(ast.literal_eval(t), float(s)) for t, s in pairs]
    return found


def similarity_matrix(lines):
    start = lines.index("cosine similarities within and across two kinds of token:")
    return np.array([[float(v) for v in re.findall(r"-?\d\.\d{3}", line)]
                     for line in lines[start + 2:start + 8]])


def check_the_toy_sections(lines):
    """Sections 1 to 3 do not depend on the checkpoint."""
    assert "['the', 'cat', 'sat', 'on', 'the', 'mat'] -> ids [0, 1, 2, 3, 0, 4]" in lines
    start = lines.index("one_hot(ids) (6, 8): a 1 in column ids[t]:")
    one_hot = np.array([[int(v) for v in line.strip(" []").split()]
                        for line in lines[start + 1:start + 7]])
    assert np.array_equal(one_hot, np.eye(8, dtype=int)[[0, 1, 2, 3, 0, 4]])
    assert "one_hot @ weight (6, 4) equals the lookup: max |difference| 0.0" in lines
    assert "'the' appears twice, so its row appears twice: rows 0 and 4 equal: True" in lines
    # the gradient counts the lookups of each row
    start = next(i for i, line in enumerate(lines) if line.startswith("the gradient of the table"))
    counts = [line.split() for line in lines[start + 1:start + 9]]
    assert counts == [["the", "2"], ["cat", "1"], ["sat", "1"], ["on", "1"], ["mat", "1"],
                      ["dog", "0"], ["ran", "0"], [".", "0"]]
    # positions, and the shapes of the sum
    assert "positions [0, 1, 2, 3, 4, 5] -> pos_emb (6, 4)" in lines
    start = lines.index("== 3. the model's input: token rows plus position rows ==")
    assert lines[start + 1:start + 5] == [
        "idx        (2, 6)     (B, T) token ids",
        "tok_emb    (2, 6, 4)  (B, T, C) = token_table(idx)",
        "pos_emb    (6, 4)     (T, C)    = position_table(0..T-1), broadcast over B",
        "x          (2, 6, 4)  (B, T, C) = tok_emb + pos_emb"]
    assert any(line.endswith("pos_emb[0] == pos_emb[4]: False") for line in lines)
    assert "and x[0, 0] - x[0, 4] = pos_emb[0] - pos_emb[4]: True" in lines
    assert "'the' at position 0 in both sentences is the same vector: True" in lines


def check_similarities(lines, n_queries):
    found = neighbours(lines)
    assert len(found) == n_queries
    for query, pairs in found.items():
        values = [s for _, s in pairs]
        assert len(pairs) == 5 and query not in [t for t, _ in pairs]
        assert values == sorted(values, reverse=True) and all(-1 <= v <= 1 for v in values)
    # the matrix: ones on the diagonal, symmetric, each kind closer to itself than to the other
    matrix = similarity_matrix(lines)
    assert matrix.shape == (6, 6)
    assert np.all(np.diag(matrix) == 1.0) and np.allclose(matrix, matrix.T)
    off_diagonal = ~np.eye(3, dtype=bool)
    within = np.mean([matrix[:3, :3][off_diagonal], matrix[3:, 3:][off_diagonal]])
    assert within > matrix[:3, 3:].mean() + 0.3
    trained, untrained = map(float, re.fullmatch(
        r"mean similarity of each query to its nearest neighbour: trained (\d\.\d+), "
        r"untrained (\d\.\d+)", lines[-1]).groups())
    assert trained > untrained
    return found


def test_05_embeddings_with_gpt2_tiny(shared_data, run_example):
    # the example finds ../shared/data/gpt2-tiny by itself; the fixture makes sure it is there
    result = run_example("05_embeddings.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    check_the_toy_sections(lines)
    assert "== 4. nearest neighbours in a trained model: gpt2-tiny, loaded ==" in lines
    assert lines[lines.index("== 4. nearest neighbours in a trained model: gpt2-tiny, loaded ==")
                 + 1].startswith("transformer.wte.weight (512, 64): 512 tokens, 64 numbers each")
    assert "transformer.wpe.weight (128, 64): one row per position" in lines
    found = check_similarities(lines, 6)
    assert set(found) == {" his", " shall", " lord", " me", ".", "What"}
    assert found["."][0][0] == "?" and " thy" in [t for t, _ in found[" his"]]
    assert found[" shall"][0][0] == " will"

    # the printed similarity is the cosine of the two rows of the checkpoint's wte
    from gpt import GPT
    from gpt.tokenizers import load_tokenizer
    model = GPT.from_pretrained(shared_data / "gpt2-tiny")
    tokenizer = load_tokenizer(shared_data / "gpt2-tiny")
    wte = model.transformer.wte.weight.data.astype(np.float64)
    (his,), (thy,) = tokenizer.encode(" his"), tokenizer.encode(" thy")
    cosine = wte[his] @ wte[thy] / np.linalg.norm(wte[his]) / np.linalg.norm(wte[thy])
    assert abs(dict(found[" his"])[" thy"] - cosine) < 6e-4


def test_05_embeddings_trains_a_model_when_the_checkpoint_is_missing(tmp_path, run_example):
    result = run_example("05_embeddings.py", tmp_path / "no-such-checkpoint")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    check_the_toy_sections(lines)
    assert any(line.startswith("== 4. nearest neighbours in a trained model: no checkpoint at ")
               and line.endswith("so a character-level model trained for 120 steps here ==")
               for line in lines)
    trained = re.fullmatch(r"trained on 200,000 characters of Python's help texts in \d+\.\d s; "
                           r"the last batch's loss (\d\.\d{3})",
                           next(line for line in lines if line.startswith("trained on ")))
    vocab_line = next(line for line in lines if line.startswith("transformer.wte.weight ("))
    V = int(re.match(r"transformer\.wte\.weight \((\d+), 48\)", vocab_line)[1])
    assert trained and float(trained[1]) < math.log(V) - 1.0
    found = check_similarities(lines, 6)
    assert set(found) == {"a", "e", "A", "1", "(", "."}
