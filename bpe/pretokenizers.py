"""Hugging Face's normaliser and pre-tokeniser, the steps of tokenizer.json that cut text into
chunks before BPE sees them.

tiktoken cuts text with one regex and keeps its matches (`bpe.patterns`). A tokenizer.json
describes a pipeline instead:

    normalizer      NFC (compose "e" + U+0301 into "é"), or nothing
    pre_tokenizer   a Sequence of steps, each cutting every piece the previous one made:
        Split       a regex (or a literal string), and what to do with its matches: keep them
                    as pieces of their own ("Isolated"), glue them to the piece before
                    ("MergedWithPrevious") or after ("MergedWithNext"), join runs of them
                    ("Contiguous") or drop them ("Removed"); `invert` swaps matches and gaps
        Digits      each digit alone, or runs of digits, as pieces (`\\p{N}`, Rust's is_numeric)
        ByteLevel   optionally a space before each piece that does not start with one
                    (add_prefix_space), then optionally GPT-2's regex (use_regex); and it
                    writes each byte as a printable character, which for us is simply
                    encoding the chunk as UTF-8

Gaps between matches are never lost: unlike tiktoken's findall, a Split keeps the text its
regex does not match. A step after ByteLevel would see its byte characters instead of the
text; no released tokenizer does that, and it is refused.

`pre_tokenizer_from_json(spec)` and `normalizer_from_json(spec)` read the JSON; anything that
would change the chunks and is not implemented here is a ValueError that names it.
"""
import unicodedata

import regex

from bpe.patterns import GPT2_PATTERN
from bpe.tokenizer import compile_pattern

BEHAVIORS = ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")


class Split:
    """One Split step: cut each piece at the matches of `pattern` (a str regex) and treat the
    matches as `behavior` says (one of BEHAVIORS)."""

    def __init__(self, pattern, behavior="Isolated", invert=False):
        if behavior not in BEHAVIORS:
            raise ValueError(f"Split behavior {behavior!r} is not one of {', '.join(BEHAVIORS)}")
        self.pattern, self.behavior, self.invert = pattern, behavior, invert
        self.compiled = compile_pattern(pattern)

    def __call__(self, pieces):
        return [part for piece in pieces for part in self.split(piece)]

    def split(self, text):
        """The pieces of one string, empty ones dropped."""
        spans = [(start, end, is_match != self.invert)
                 for start, end, is_match in self.spans(text)]
        return [text[start:end] for start, end in self.combine(spans) if end > start]

    def spans(self, text):
        """(start, end, is_match) for each match and each gap between, in order."""
        spans, previous = [], 0
        for found in self.compiled.finditer(text):
            start, end = found.span()
            if start != previous:
                spans.append((previous, start, False))
            spans.append((start, end, True))
            previous = end
        if previous != len(text):
            spans.append((previous, len(text), False))
        return spans

    def combine(self, spans):
        """The (start, end) of the pieces that `behavior` makes of the spans."""
        if self.behavior == "Isolated":
            return [(start, end) for start, end, _ in spans]
        if self.behavior == "Removed":
            return [(start, end) for start, end, is_match in spans if not is_match]
        if self.behavior == "MergedWithNext":
            # the mirror image of MergedWithPrevious: run it on the spans backwards
            mirrored = [(-end, -start, is_match) for start, end, is_match in reversed(spans)]
            return [(-end, -start) for start, end in
                    reversed(merge_matches_into_previous(mirrored))]
        if self.behavior == "MergedWithPrevious":
            return merge_matches_into_previous(spans)
        pieces, previous_match = [], None                                   # Contiguous
        for start, end, is_match in spans:
            if pieces and is_match == previous_match:
                pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
            previous_match = is_match
        return pieces

    def __repr__(self):
        invert = ", invert=True" if self.invert else ""
        return f"Split({self.pattern!r}, {self.behavior!r}{invert})"


def merge_matches_into_previous(spans):
    """A match that follows a gap joins that gap's piece; a match after another match (or at
    the start) stays a piece of its own. Hugging Face's MergedWithPrevious, exactly."""
    pieces, previous_match = [], False
    for start, end, is_match in spans:
        if is_match and not previous_match and pieces:
            pieces[-1] = (pieces[-1][0], end)
        else:
            pieces.append((start, end))
        previous_match = is_match
    return pieces


class ByteLevel:
    """The ByteLevel step: a space before each piece that lacks one (add_prefix_space), then
    GPT-2's regex (use_regex)."""

    def __init__(self, add_prefix_space=False, use_regex=True):
        self.add_prefix_space, self.use_regex = add_prefix_space, use_regex
        self.regex_split = Split(GPT2_PATTERN) if use_regex else None

    def __call__(self, pieces):
        if self.add_prefix_space:
            pieces = [piece if piece.startswith(" ") else " " + piece for piece in pieces]
        return self.regex_split(pieces) if self.use_regex else pieces

    def __repr__(self):
        return f"ByteLevel(add_prefix_space={self.add_prefix_space}, use_regex={self.use_regex})"


def digits(individual_digits):
    """The Digits step, which is a Split on each numeric character."""
    return Split(r"\p{N}", "Isolated" if individual_digits else "Contiguous")


class PreTokenizer:
    """Text -> chunks: the normaliser (None or "NFC"), then each step in turn."""

    def __init__(self, steps, normalizer=None):
        self.steps = list(steps)
        self.normalizer = normalizer
        self.pattern = self.single_regex()
        self._compiled = None if self.pattern is None else compile_pattern(self.pattern)

    def normalize(self, text):
        return text if self.normalizer is None else unicodedata.normalize(self.normalizer, text)

    def __call__(self, text):
        """The chunks of `text` (already normalised). When the pipeline is one regex that
        keeps its matches, findall does it; it falls back to the steps only if the matches
        leave a gap."""
        if self._compiled is not None and not self._compiled.groups:
            chunks = self._compiled.findall(text)
            if sum(map(len, chunks)) == len(text):
                return [chunk for chunk in chunks if chunk]
        pieces = [text] if text else []
        for step in self.steps:
            pieces = step(pieces)
        return pieces

    def single_regex(self):
        """The regex whose matches are the chunks when the pipeline is just that, as
        tiktoken's pattern is (GPT-2's ByteLevel, Llama 3's Split + ByteLevel); else None."""
        splits = []
        for step in self.steps:
            if isinstance(step, ByteLevel) and not step.add_prefix_space:
                splits += [step.regex_split] if step.use_regex else []
            elif isinstance(step, Split) and step.behavior == "Isolated" and not step.invert:
                splits.append(step)
            else:
                return None
        return splits[0].pattern if len(splits) == 1 else None

    def __repr__(self):
        normalizer = f"{self.normalizer} then " if self.normalizer else ""
        return f"PreTokenizer({normalizer}{' then '.join(map(repr, self.steps)) or 'nothing'})"


# ---- reading the JSON ----

def normalizer_from_json(spec):
    """None or "NFC" for tokenizer.json's "normalizer"; other normalisers are refused."""
    if spec is None:
        return None
    kind = _kind(spec, "normalizer")
    if kind == "NFC":
        return "NFC"
    if kind == "Sequence":
        found = {normalizer_from_json(part) for part in _list(spec, "normalizers", "normalizer")}
        return "NFC" if "NFC" in found else None
    raise ValueError(f"the normalizer {kind} is not supported (only NFC, or none)")


def pre_tokenizer_steps_from_json(spec):
    """The steps of tokenizer.json's "pre_tokenizer" (a dict), in order."""
    if spec is None:
        return []
    kind = _kind(spec, "pre_tokenizer")
    if kind == "Sequence":
        steps = []
        for part in _list(spec, "pretokenizers", "pre_tokenizer"):
            steps += pre_tokenizer_steps_from_json(part)
        return steps
    if kind == "Split":
        return [_split_from_json(spec)]
    if kind == "Digits":
        return [digits(_flag(spec, "individual_digits", False))]
    if kind == "ByteLevel":
        if "add_prefix_space" not in spec:
            raise ValueError("the ByteLevel pre_tokenizer has no add_prefix_space")
        return [ByteLevel(_flag(spec, "add_prefix_space", False), _flag(spec, "use_regex", True))]
    raise ValueError(f"the pre_tokenizer {kind} is not supported (only Split, Digits, "
                     f"ByteLevel, or a Sequence of them)")


def pre_tokenizer_from_json(pre_tokenizer_spec, normalizer_spec):
    """The whole PreTokenizer, checked to be byte-level: ByteLevel comes last."""
    steps = pre_tokenizer_steps_from_json(pre_tokenizer_spec)
    byte_level = [i for i, step in enumerate(steps) if isinstance(step, ByteLevel)]
    if not byte_level:
        raise ValueError("the pre_tokenizer has no ByteLevel step, so this is not a byte-level "
                         "BPE (a SentencePiece-style BPE works on characters, not bytes)")
    if byte_level[0] != len(steps) - 1:
        raise ValueError(f"the pre_tokenizer has {steps[byte_level[0] + 1]!r} after ByteLevel, "
                         f"which would cut byte characters rather than text: not supported")
    return PreTokenizer(steps, normalizer_from_json(normalizer_spec))


def _split_from_json(spec):
    pattern = spec.get("pattern")
    if isinstance(pattern, dict) and isinstance(pattern.get("Regex"), str):
        regex_text = pattern["Regex"]
    elif isinstance(pattern, dict) and isinstance(pattern.get("String"), str):
        regex_text = regex.escape(pattern["String"])
    else:
        raise ValueError(f"a Split pre_tokenizer needs a pattern {{\"Regex\": ...}} or "
                         f"{{\"String\": ...}}, not {str(pattern)[:60]}")
    return Split(regex_text, spec.get("behavior"), _flag(spec, "invert", False))


def _kind(spec, what):
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"a {what} must be an object with a \"type\", not {str(spec)[:60]}")
    return spec["type"]


def _list(spec, key, what):
    parts = spec.get(key)
    if not isinstance(parts, list):
        raise ValueError(f"a Sequence {what} needs a list {key!r}")
    return parts


def _flag(spec, key, default):
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{spec['type']}'s {key} must be true or false, not {value!r}")
    return value
