"""Showing tokens to a human: bytes as a quoted string, with escapes where needed."""
import json


def render_token(token):
    """`token` (bytes) as a double-quoted string: b"the" -> '"the"', b" \\n" -> '" \\\\n"'.

    A token can hold part of a UTF-8 character (byte-level BPE ignores character boundaries);
    such bytes are shown as \\xNN escapes, e.g. the first byte of "é" is '"\\\\xc3"'.
    """
    pieces = []
    rest = token
    while rest:
        try:
            text, bad, rest = rest.decode("utf-8"), b"", b""
        except UnicodeDecodeError as err:
            text = rest[:err.start].decode("utf-8")
            bad, rest = rest[err.start:err.end], rest[err.end:]
        pieces.append(json.dumps(text, ensure_ascii=False)[1:-1])  # escapes quotes, \n, \t ...
        pieces.append("".join(f"\\x{byte:02x}" for byte in bad))
    return '"' + "".join(pieces) + '"'


def render_merge(left, right):
    """A merge as readable pieces: render_merge(b"t", b"he") -> '"t" + "he" -> "the"'."""
    return f"{render_token(left)} + {render_token(right)} -> {render_token(left + right)}"
