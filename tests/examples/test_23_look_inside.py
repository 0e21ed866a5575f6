"""examples/23_look_inside.py in fast mode: the lens's table, the head ablation and the patching
experiment, their numbers checked against the model computed here another way."""
import copy
import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHAPE = re.compile(r"\((\d+(?:, \d+)+)\)")
FRACTION = r"(-?\d+\.\d{3})"


def opening():
    """examples/fallback_text.py's SHAKESPEARE_OPENING (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fallback_text",
                                                  ROOT / "examples" / "fallback_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SHAKESPEARE_OPENING


def check_distinct_sizes(lines):
    """No printed shape has two axes of one length (a learner can tell B, T, H, D, V apart)."""
    for line in lines:
        for shape in SHAPE.findall(line):
            sizes = [int(size) for size in shape.split(", ")]
            assert len(set(sizes)) == len(sizes), line


def lens_rows(section):
    """{depth: (right %, log p, same as the model %)} from section 2's table."""
    rows = {}
    for line in section:
        m = re.fullmatch(r"(embed|block \d) +(\d+\.\d)% +(-?\d+\.\d{3}) +(\d+\.\d)%", line)
        if m:
            rows[m[1]] = (float(m[2]), float(m[3]), float(m[4]))
    return rows


def table(section, header_start, n_rows):
    """The rows of numbers under the line that starts with header_start (after its column
    labels): [[numbers]], parsed from '-0.034' or '+0.144 (+0.081)' cells."""
    start = next(i for i, line in enumerate(section) if line.startswith(header_start)) + 2
    return [[float(v) for v in re.findall(r"[-+]?\d+\.\d{3}", line.split(maxsplit=2)[-1]
                                          if line.startswith("block") else
                                          line.split(maxsplit=1)[-1])]
            for line in section[start:start + n_rows]]


def check_common(lines, section, n_layer, n_head, T):
    """What every run prints, whatever the model: the sections, exact patching identities."""
    check_distinct_sizes(lines)
    names = ["embed"] + [f"block {i}" for i in range(n_layer)]
    lens = lens_rows(section(lines, 2))
    assert list(lens) == names and lens[names[-1]][2] == 100.0
    settled_rows = [re.fullmatch(r"  \S+(?: \d)? +(\d+) positions?", line)
                    for line in section(lines, 2)]
    settled = [int(row[1]) for row in settled_rows if row]
    right = re.search(r"the model's guess is right at (\d+) of (\d+) positions",
                      "\n".join(section(lines, 2)))
    assert len(settled) == n_layer + 1 and sum(settled) == int(right[1])
    assert abs(lens[names[-1]][0] - 100 * int(right[1]) / int(right[2])) < 0.06

    ablation = section(lines, 3)
    by_hand = re.search(r"zeroed by a hook written here: loss (\d\.\d{4}); by "
                        r"gpt\.inspection\.ablation: (\d\.\d{4})", "\n".join(ablation))
    assert by_hand[1] == by_hand[2]
    increases = table(ablation, "the rise in the loss on the second copy", n_layer)
    assert [len(row) for row in increases] == [2 * n_head] * n_layer
    on_second = np.array(increases)[:, 0::2]
    ranked = [tuple(map(float, m.groups())) for m in (re.fullmatch(
        r"  block (\d) head (\d): ([-+]\d\.\d{3}) \(first copy [-+]\d\.\d{3}\)", line)
        for line in ablation) if m]
    assert len(ranked) == 3
    assert [value for _, _, value in ranked] == sorted(on_second.ravel(), reverse=True)[:3]
    for layer, head, value in ranked:
        assert on_second[int(layer), int(head)] == value

    patching = section(lines, 4)
    restored = np.array(table(patching, "the fraction restored by one position", n_layer + 1))
    assert restored.shape == (n_layer + 1, T)
    # after the last block only the last position reaches the answer, and all of it
    np.testing.assert_array_equal(restored[-1], [0.0] * (T - 1) + [1.0])
    assert ("every position of one depth at once: "
            + ", ".join(f"{name} 1.000" for name in names)) in patching
    heads = np.array(table(patching, "the fraction restored by one head's output", n_layer))
    assert heads.shape == (n_layer, n_head)
    return restored, heads, on_second


def test_23_look_inside_on_gpt2_tiny(shared_data, run_example, section, capsys):
    result = run_example("23_look_inside.py")
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "== 1. the model: gpt2-tiny, loaded =="
    assert lines[1] == "2 blocks of 4 heads, 64 wide (heads of 16); 512 tokens; 141,056 parameters"
    assert ("idx (2, 60) -> the residual stream at 3 depths, each read out through ln_f and the "
            "head: lens (3, 2, 60, 512)") in lines
    restored, heads, on_second = check_common(lines, section, n_layer=2, n_head=4, T=8)

    from gpt import GPT
    from gpt.cli import main
    from gpt.tokenizers import load_tokenizer
    directory = shared_data / "gpt2-tiny"
    model, tokenizer = GPT.from_pretrained(directory), load_tokenizer(directory)
    model.eval()

    # the lens's last row is the model's own accuracy on the same windows
    text_ids = tokenizer.encode(opening())
    ids = np.array(text_ids[:120]).reshape(2, 60)
    logits, _ = model(ids)
    accuracy = np.mean(logits.data[:, :-1].argmax(-1) == ids[:, 1:])
    assert abs(lens_rows(section(lines, 2))["block 1"][0] - 100 * accuracy) < 0.06
    # the table after the clean prompt is the one `python -m gpt lens` prints
    assert main(["lens", "--model", str(directory), "--text", "\n\nKING RICHARD I",
                 "--top", "3"]) == 0
    command_table = capsys.readouterr().out.splitlines()[1:]
    start = lines.index('the lens after "\\n\\nKING RICHARD I", as `python -m gpt lens` prints it:')
    assert lines[start + 1:start + 5] == ["  " + line for line in command_table]

    # ablation: block 0 head 2 zeroed is its columns of c_proj zeroed, on the second copy
    line_ids = text_ids[40:64]
    repeat = np.array([line_ids + line_ids])
    targets = np.full_like(repeat, -100)
    targets[0, 24:-1] = repeat[0, 25:]
    _, clean_loss = model(repeat, targets)
    by_hand = copy.deepcopy(model)
    by_hand.transformer.h[0].attn.c_proj.weight.data[:, 32:48] = 0.0
    _, ablated = by_hand(repeat, targets)
    assert abs(on_second[0, 2] - (ablated.item() - clean_loss.item())) < 6e-4

    # patching: the clean and corrupted probabilities of the answer "I"
    patching = section(lines, 4)
    assert 'positions: 0:"\\n"  1:"\\n"  2:"KING"  3:" R"/" E"  4:"IC"/"D"  5:"H"/"W"  6:"ARD"  ' \
           '7:" I"' in patching
    probabilities = []
    for prompt in ("\n\nKING RICHARD I", "\n\nKING EDWARD I"):
        last = model(np.array([tokenizer.encode(prompt)]))[0].data[0, -1].astype(np.float64)
        probabilities.append(np.exp(last - last.max())[tokenizer.encode("I")[0]]
                             / np.exp(last - last.max()).sum())
    (answer_line,) = [line for line in patching if line.startswith('the clean answer "I": ')]
    printed = [float(p) for p in re.findall(r"p = (\d\.\d{3})", answer_line)]
    np.testing.assert_allclose(printed, probabilities, atol=6e-4)
    # positions before the name hold the same tokens: nothing to restore there
    np.testing.assert_array_equal(restored[:, :3], 0.0)
    assert restored[0, 3] > 0.5 and heads.max() == heads[1, 2]


def test_23_look_inside_trains_a_model_when_gpt2_tiny_is_missing(run_example, section, tmp_path):
    # A copy outside the project has no ../shared/data beside it.
    copy_dir = tmp_path / "project" / "examples"
    copy_dir.mkdir(parents=True)
    for name in ("23_look_inside.py", "fallback_text.py"):
        shutil.copy(ROOT / "examples" / name, copy_dir)
    result = run_example(copy_dir / "23_look_inside.py", timeout=300)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("== 1. the model: no checkpoint at ")
    assert lines[0].endswith("so a character-level model trained for 250 steps here ==")
    trained = re.fullmatch(r"trained on the 1,000 characters of examples/fallback_text\.py; "
                           r"the last batch's loss (\d\.\d{3})", lines[1])
    assert trained and float(trained[1]) < np.log(46) - 1.0
    assert re.fullmatch(r"2 blocks of 3 heads, 36 wide \(heads of 12\); 46 tokens; "
                        r"[\d,]+ parameters", lines[2])
    restored, _, _ = check_common(lines, section, n_layer=2, n_head=3, T=11)
    # "Speak, spea" and "Speak, stea" differ at position 8 only: in the embeddings all of
    # the difference is there
    np.testing.assert_array_equal(restored[0], [0.0] * 8 + [1.0, 0.0, 0.0])
