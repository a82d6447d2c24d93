"""Safe, formatted Python source fragments for the PyTorch emitter.

Every value that reaches generated code passes through `literal`, which accepts only
numbers, booleans, None, tuples of those and `Code` objects the backend itself made from
fixed tables. Calls are laid out the way ruff/black format them (one line; else the
arguments hugged on one indented line; else one per line with a trailing comma), so the
generated file needs no formatter at build time and `ruff format --check` passes on it.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Any

from specc.blocks.kind import Argument, Code
from specc.ir.nodes import format_shape

LINE_LENGTH = 100
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The forms of `Code` an argument may take (specc's tables: `nn.SiLU`, `dpr[3]`, `"same"`).
_ARGUMENT_CODE = re.compile(r'[A-Za-z_][A-Za-z0-9_.]*(\[[0-9]+\])?|"same"')


def literal(value: Any) -> str:
    """`repr` of a plain literal; anything else is refused (a backend bug, not user input)."""
    if isinstance(value, Code):
        if not _ARGUMENT_CODE.fullmatch(value.text):
            raise ValueError(f"refusing to emit {value.text!r} as an argument")
        return value.text
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite float {value!r} cannot be emitted")
        return repr(value)
    if isinstance(value, tuple):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise TypeError(f"refusing to emit {type(value).__name__} {value!r} as code")


def identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not an identifier")
    return name


def arguments(args: list[Argument]) -> list[str]:
    return [literal(v) if k is None else f"{identifier(k)}={literal(v)}" for k, v in args]


def call(indent: int, head: str, func: str, args: list[str], tail: str = "") -> list[str]:
    """Lines of `<head><func>(<args>)<tail>` at `indent`, laid out like ruff format."""
    pad = " " * indent
    one_line = f"{pad}{head}{func}({', '.join(args)}){tail}"
    if len(one_line) <= LINE_LENGTH:
        return [one_line]
    hugged = f"{pad}    {', '.join(args)}"
    if len(hugged) <= LINE_LENGTH:
        return [f"{pad}{head}{func}(", hugged, f"{pad}){tail}"]
    return [f"{pad}{head}{func}(", *(f"{pad}    {arg}," for arg in args), f"{pad}){tail}"]


def comment(text: str) -> str:
    """`text` made safe inside a `#` comment or a docstring line: printable ASCII without
    backslashes or double quotes, so no line break, escape or closing quotes can end the
    comment, whoever produced the text; anything else becomes '?'."""
    return "".join(ch if " " <= ch <= "~" and ch not in '\\"' else "?" for ch in text)


def template_value(value: Any) -> str:
    """What a template writes for `{{ value }}` (jinja's `finalize`): `Code` as is (specc's
    own code: rendered classes, checked calls); every string through `comment`, whoever made
    it (a plugin's description, a spec's text), so no value can end a comment, docstring or
    string literal and become code; numbers, booleans and None as `literal`s."""
    if isinstance(value, Code):
        return value.text
    if isinstance(value, str):
        return comment(value)
    return literal(value)


def comment_lines(text: str) -> Code:
    """Multi-line text for a docstring: each line through `comment`."""
    return Code("\n".join(comment(line) for line in text.splitlines()))


def shape(dims: tuple[int, ...] | list[int]) -> str:
    return format_shape(dims)
