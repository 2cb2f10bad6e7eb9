"""Hidden rules over three numbers, written as small Python-like expressions over x, y and z
("x < y < z", "(x + y) % 3 == 0"), and a safe evaluator for them.

Both the rule an item hides and the rule a model states are read by the same evaluator, so a
suite file or a model's answer can never run code on the host: the text is parsed with `ast`
and only a small grammar is accepted (numbers, x y z, + - * / // % **, comparisons, and or
not, if-else, abs min max), within bounds on its length, its size and every intermediate
value. A model may also write the rule as `lambda x, y, z: ...` (any three parameter names)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_RULE_CHARS = 400
MAX_NODES = 120
MAX_MAGNITUDE = 1e18
"""Largest absolute value any step of an evaluation may reach."""
MAX_POWER_EXPONENT = 12

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Name,
    ast.Constant,
    ast.Call,
    ast.Load,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    *_BINARY,
    *_COMPARE,
)


class RuleError(ValueError):
    """A rule that cannot be read, or an evaluation that went out of bounds."""


def _strip(text: str) -> str:
    text = text.strip().strip("`").strip()
    if text.startswith("python\n"):
        text = text[len("python\n") :].strip()
    return text


def _check(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise RuleError("a value is not finite")
        if abs(value) > MAX_MAGNITUDE:
            raise RuleError("a value grew too large")
        return value
    raise RuleError(f"unexpected value of type {type(value).__name__}")


@dataclass(frozen=True)
class Rule:
    """A rule read by `parse_rule`: call it with three numbers for True or False."""

    text: str
    """The rule as written."""
    body: ast.expr
    names: tuple[str, str, str]

    def __call__(self, x: Number, y: Number, z: Number) -> bool:
        """The rule's verdict (RuleError if evaluating it goes out of bounds, e.g. / 0)."""
        return bool(self._eval(self.body, dict(zip(self.names, (x, y, z), strict=True))))

    def _eval(self, node: ast.expr, env: dict[str, Number]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for value in node.values:
                    result = self._eval(value, env)
                    if not result:
                        return result
                return result
            for value in node.values:
                result = self._eval(value, env)
                if result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, env)
            if isinstance(node.op, ast.Not):
                return not operand
            return _check(-operand if isinstance(node.op, ast.USub) else +operand)
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, env), self._eval(node.right, env)
            if isinstance(node.op, ast.Pow):
                if abs(left) > 1e6 or not (-MAX_POWER_EXPONENT <= right <= MAX_POWER_EXPONENT):
                    raise RuleError("a power is out of bounds")
                if left == 0 and right < 0:
                    raise RuleError("division by zero")
            try:
                return _check(_BINARY[type(node.op)](left, right))
            except ZeroDivisionError:
                raise RuleError("division by zero") from None
            except (OverflowError, TypeError) as exc:
                raise RuleError(str(exc)) from None
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comparator, env)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            branch = node.body if self._eval(node.test, env) else node.orelse
            return self._eval(branch, env)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            args = [self._eval(arg, env) for arg in node.args]
            try:
                return _check(_FUNCTIONS[node.func.id](*args))
            except TypeError as exc:
                raise RuleError(str(exc)) from None
        raise RuleError(f"cannot evaluate {type(node).__name__}")


def parse_rule(text: str) -> Rule:
    """Read a rule (RuleError saying why it cannot be read)."""
    source = _strip(text)
    if not source:
        raise RuleError("the rule is empty")
    if len(source) > MAX_RULE_CHARS:
        raise RuleError(f"the rule is longer than {MAX_RULE_CHARS} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise RuleError("the rule is not a valid expression") from None
    body = tree.body
    names: tuple[str, str, str] = ("x", "y", "z")
    if isinstance(body, ast.Lambda):
        params = body.args
        if (
            len(params.args) != 3
            or params.posonlyargs
            or params.kwonlyargs
            or params.vararg
            or params.kwarg
            or params.defaults
        ):
            raise RuleError("a lambda rule takes exactly three parameters")
        names = (params.args[0].arg, params.args[1].arg, params.args[2].arg)
        body = body.body
    for count, node in enumerate(ast.walk(body), start=1):
        if count > MAX_NODES:
            raise RuleError(f"the rule has more than {MAX_NODES} parts")
        if not isinstance(node, _ALLOWED):
            raise RuleError(f"'{type(node).__name__}' is not allowed in a rule")
        if isinstance(node, ast.Name) and node.id not in names and node.id not in _FUNCTIONS:
            raise RuleError(f"unknown name {node.id[:40]!r} (use {', '.join(names)})")
        if isinstance(node, ast.Constant):
            value = node.value
            if not isinstance(value, int | float):
                raise RuleError("only numbers, True and False may appear as constants")
            if not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
                raise RuleError("a number in the rule is too large")
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name)
            or node.func.id not in _FUNCTIONS
            or node.keywords
            or not node.args
        ):
            raise RuleError("only abs(), min() and max() may be called")
    called = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
    for node in ast.walk(body):
        if isinstance(node, ast.Name) and node.id not in names and id(node) not in called:
            raise RuleError(f"{node.id} may only be called")
    return Rule(text=source, body=body, names=names)


def agreement(
    guess: Rule, truth: Rule, cases: Sequence[tuple[Number, Number, Number]]
) -> tuple[int, list[tuple[Number, Number, Number]]]:
    """How many cases the guessed rule answers as the true one does, and the ones it does
    not (a guess that fails on a case disagrees there)."""
    wrong = []
    for case in cases:
        expected = truth(*case)
        try:
            agrees = guess(*case) == expected
        except RuleError:
            agrees = False
        if not agrees:
            wrong.append(case)
    return len(cases) - len(wrong), wrong
