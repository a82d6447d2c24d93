"""Width expressions of YAML block kinds: parsed, checked and turned back into Python.

A block graph (`specc.lang.graphs`) states its widths as small arithmetic expressions over
the block's numbers (`in_channels`, `out_channels`, `stride`, `kernel_size`), its params
and its named widths: `round(out_channels * expand_ratio)`, `exp // 2`. Two grammars:

- a *width* (`widths:`) may use `+ - * / //`, numbers, parentheses and the rounding
  functions `round` (half to even, Python's, as timm's `int(round(...))`), `floor`,
  `ceil`, `min`, `max` and `divisible` (the spec's channel rule without the multiplier);
  specc evaluates it, in float and exactly, and passes the integer to the class;
- a *node field* (`out:`, `sizes:`, `groups:`, `stride:`, `repeat:`, `when:`) may use
  only integer arithmetic (`+ - * //`), comparisons and `and`/`or`/`not`, so that it is
  written into model.py as the same Python expression (`python()`) and computed there.

The expression is parsed with Python's `ast` and every node is checked against a short
list: nothing but these names, numbers and operators can appear, so nothing from a spec
becomes code except validated identifiers and integer literals.

Pure: no specc imports beyond the standard library.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

Value = int | float | Fraction | bool

WIDTH_FUNCTIONS = ("round", "floor", "ceil", "min", "max", "divisible")
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
MAX_TEXT = 200


class ExprError(ValueError):
    """A malformed or disallowed expression; the message says what to write instead."""


@dataclass(frozen=True)
class Expr:
    """A checked expression: its text, its tree, the names it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]
    integer: bool  # only integer arithmetic (a node field): may be written as Python

    def python(self, rename: Mapping[str, str] | None = None) -> str:
        """The expression as Python source (names renamed by `rename`)."""
        rename = rename or {}
        tree = _Rename(rename).visit(ast.parse(self.text, mode="eval").body)
        return ast.unparse(tree)


class _Rename(ast.NodeTransformer):
    def __init__(self, rename: Mapping[str, str]) -> None:
        self.rename = rename

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.rename.get(node.id, node.id), node.ctx)


def parse(text: object, *, integer: bool) -> Expr:
    """Parse and check `text` (a YAML string or number); ExprError says what is wrong."""
    if isinstance(text, bool):
        raise ExprError(f"expected an expression or a number, got {str(text).lower()}")
    if isinstance(text, int | float):
        text = repr(text)
    if not isinstance(text, str):
        raise ExprError(f"expected an expression or a number, got {text!r}")
    if not text.strip() or len(text) > MAX_TEXT:
        raise ExprError(f"an expression is 1 to {MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ExprError(f"{text!r} is not an expression") from None
    names: set[str] = set()
    _check(tree, names, integer)
    return Expr(text.strip(), tree, frozenset(names), integer)


def names_of(text: object) -> frozenset[str]:
    """The names an expression reads, unchecked (empty for text that does not parse)."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError:
        return frozenset()
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


def _check(node: ast.AST, names: set[str], integer: bool) -> None:
    allowed = (
        "integer arithmetic (+ - * //)"
        if integer
        else "+ - * / // and " + ", ".join(WIDTH_FUNCTIONS)
    )
    match node:
        case ast.Constant(value=constant):
            if isinstance(constant, bool) or not isinstance(constant, int | float):
                raise ExprError(f"only numbers may appear, not {constant!r}")
            if integer and not isinstance(constant, int):
                raise ExprError(
                    f"{constant!r}: a node field takes integer arithmetic only; state fractional "
                    "widths under `widths:` (with round, floor or ceil)"
                )
        case ast.Name(id=name):
            names.add(name)
        case ast.BinOp(left=left, op=op, right=right):
            ok = isinstance(op, _ARITH) or (not integer and isinstance(op, ast.Div))
            if not ok:
                raise ExprError(f"operator {type(op).__name__} is not allowed: use {allowed}")
            _check(left, names, integer)
            _check(right, names, integer)
        case ast.UnaryOp(op=ast.USub() | ast.UAdd(), operand=inner):
            _check(inner, names, integer)
        case ast.UnaryOp(op=ast.Not(), operand=inner) if integer:
            _check(inner, names, integer)
        case ast.BoolOp(values=operands) if integer:
            for operand in operands:
                _check(operand, names, integer)
        case ast.Compare(left=left, ops=ops, comparators=rights) if integer:
            if not all(isinstance(op, _COMPARE) for op in ops):
                raise ExprError("comparisons are ==, !=, <, <=, >, >=")
            for part in (left, *rights):
                _check(part, names, integer)
        case ast.Call(func=ast.Name(id=func), args=args, keywords=[]) if not integer:
            if func not in WIDTH_FUNCTIONS:
                raise ExprError(
                    f"unknown function {func!r}; functions: {', '.join(WIDTH_FUNCTIONS)}"
                )
            arity = (2, 3, 4) if func in ("min", "max") else (1,)
            if len(args) not in arity:
                raise ExprError(f"{func}() takes {' or '.join(map(str, arity))} argument(s)")
            for arg in args:
                _check(arg, names, integer)
        case ast.Call() if integer:
            raise ExprError(
                "a node field takes integer arithmetic only; compute rounded widths under "
                "`widths:` and name them here"
            )
        case _:
            raise ExprError(f"{ast.unparse(node)!r} is not allowed here: use {allowed}")


Rounder = Callable[[Value], int]


def evaluate(
    expr: Expr,
    env: Mapping[str, Value],
    *,
    exact: bool = False,
    divisible: Rounder | None = None,
) -> Value:
    """The value of `expr` with names from `env`; `exact` computes with Fractions (floats
    are taken as the decimal their repr shows). Division by zero raises ExprError."""
    return _eval(expr.tree, env, exact, divisible)


def _number(value: Value, exact: bool) -> Value:
    if exact and isinstance(value, float):
        return Fraction(repr(value))
    return value


def _eval(node: ast.AST, env: Mapping[str, Value], exact: bool, div: Rounder | None) -> Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return _number(node.value, exact)
    if isinstance(node, ast.Name):
        return _number(env[node.id], exact)
    if isinstance(node, ast.BinOp):
        return _binary(
            node, _eval(node.left, env, exact, div), _eval(node.right, env, exact, div), exact
        )
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env, exact, div)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BoolOp):
        results = [bool(_eval(v, env, exact, div)) for v in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.Compare):
        operands = [_eval(v, env, exact, div) for v in (node.left, *node.comparators)]
        pairs = zip(node.ops, operands, operands[1:], strict=False)
        return all(_compare(op, a, b) for op, a, b in pairs)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(node.func.id, [_eval(a, env, exact, div) for a in node.args], div)
    raise ExprError(f"cannot evaluate {ast.unparse(node)!r}")  # excluded by _check


def _binary(node: ast.BinOp, a: Value, b: Value, exact: bool) -> Value:
    op = node.op
    if isinstance(op, ast.Div | ast.FloorDiv) and b == 0:
        raise ExprError(f"division by zero in {ast.unparse(node)!r}")
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    if isinstance(op, ast.FloorDiv):
        return a // b
    return Fraction(a) / Fraction(b) if exact else a / b


def _call(func: str, values: list[Value], div: Rounder | None) -> Value:
    if func == "round":
        return round(values[0])
    if func == "floor":
        return math.floor(values[0])
    if func == "ceil":
        return math.ceil(values[0])
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    if func == "divisible" and div is not None:
        return div(values[0])
    raise ExprError(f"unknown function {func!r}")


def _compare(op: ast.cmpop, a: Value, b: Value) -> bool:
    match op:
        case ast.Eq():
            return a == b
        case ast.NotEq():
            return a != b
        case ast.Lt():
            return a < b
        case ast.LtE():
            return a <= b
        case ast.Gt():
            return a > b
        case _:
            return a >= b
