"""Printing that never fails on the terminal's encoding.

Under an ASCII locale (`LC_ALL=C`, `PYTHONUTF8=0`) Python's stdout encodes ASCII with
`strict` errors, so the first `→` in a table raised `UnicodeEncodeError`, after the files
were written. `ascii_fallback()` (called once by the CLI before any command runs) switches
stdout and stderr, where their encoding cannot write such characters, to the codec
`specc_ascii`, which writes readable ASCII instead: `→` as `->`, `φ` as `phi`, `≥` as `>=`;
a character with no spelling here becomes its NFKD decomposition's ASCII part, else `?`.
A codec rather than an error handler, because click and rich look at a stream's encoding:
click would write UTF-8 to an "ascii" stream, rich picks ASCII table borders for any
encoding that is not UTF. UTF-8 streams are left exactly as they are.
"""

from __future__ import annotations

import codecs
import io
import sys
import unicodedata
from typing import Any

CODEC = "specc_ascii"
SPELLINGS = {
    "→": "->", "←": "<-", "↔": "<->", "⇒": "=>", "×": "x", "·": ".", "−": "-", "–": "-",
    "—": "--", "≈": "~", "≥": ">=", "≤": "<=", "≠": "!=", "±": "+/-", "…": "...", "φ": "phi",
    "α": "alpha", "β": "beta", "γ": "gamma", "Δ": "d", "μ": "u", "°": "deg", "‘": "'",
    "’": "'", "“": '"', "”": '"', "✓": "ok", "✗": "x", "•": "*",
    # Box drawing, for tables printed by hand (rich picks ASCII boxes by itself).
    "─": "-", "━": "-", "│": "|", "┃": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+",
    "├": "+", "┤": "+", "┬": "+", "┴": "+", "┼": "+", "═": "=",
}  # fmt: skip


def to_ascii(text: str) -> str:
    """`text` spelled in ASCII (the spellings above, then NFKD, then `?`)."""
    return "".join(_spell(ch) if ord(ch) > 127 else ch for ch in text)


def _spell(ch: str) -> str:
    if ch in SPELLINGS:
        return SPELLINGS[ch]
    decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return decomposed or "?"


class _Encoder(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return to_ascii(text).encode("ascii", "replace")


class _Decoder(codecs.IncrementalDecoder):
    def decode(self, data: Any, final: bool = False) -> str:
        return bytes(data).decode("ascii", "replace")


def _encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    return to_ascii(text).encode("ascii", "replace"), len(text)


def _decode(data: Any, errors: str = "strict") -> tuple[str, int]:
    return bytes(data).decode("ascii", "replace"), len(data)


def _search(name: str) -> codecs.CodecInfo | None:
    if name != CODEC:
        return None
    return codecs.CodecInfo(
        _encode, _decode, incrementalencoder=_Encoder, incrementaldecoder=_Decoder, name=CODEC
    )


codecs.register(_search)


def ascii_fallback() -> None:
    """Make stdout and stderr spell in ASCII what their encoding cannot write (see above)."""
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue  # captured (tests) or replaced by the caller: leave it
        try:
            "→φ≥".encode(stream.encoding)
        except (UnicodeEncodeError, LookupError):
            stream.reconfigure(encoding=CODEC)


def active(stream: object) -> bool:
    """Whether `stream` spells non-ASCII text in ASCII (see `ascii_fallback`)."""
    return getattr(stream, "encoding", None) == CODEC
