"""examples/04_bpe.py runs in fast mode and prints what a learner should see."""


def test_04_bpe_prints_the_walk_through(run_example):
    result = run_example("04_bpe.py")
    assert result.stderr == ""  # no warning: training reaches the size it asks for
    lines = result.stdout.splitlines()
    assert "'the'    -> UTF-8 bytes [116, 104, 101]" in lines
    assert ("GPT-4 pattern: ['The', ' pieces', ' aren', \"'t\", ' words', ',', ' mostly', '.']"
            in lines)
    assert "learned 30 merges; vocabulary size 287" in lines
    # the most frequent pair in the paragraph is " " + "t"; " the" follows within five merges
    assert '  merge  1: (32, 116) -> 256   " " + "t" -> " t"' in lines
    assert '  merge  5: (256, 258) -> 260   " t" + "he" -> " the"' in lines
    assert "decode(encode(text)) == text: True" in lines
    assert "<|endoftext|> has id 286, the last one" in lines
    assert any(line.startswith("encode(text) refuses it by default: ValueError: ")
               for line in lines)
    assert "allowed_special='all':   one id 286 in the middle: True" in lines
    assert any(line.startswith("disallowed_special=():   encoded as plain text")
               and line.endswith("id 286 absent: True") for line in lines)
    assert "decode of either gives the text back: True" in lines
