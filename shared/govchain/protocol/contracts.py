"""Smart contracts as data: deterministic state machines with CEL guards.

A contract is deployed on chain (``contract.deployed``) as a definition: for each *case*
(one licence application, one land-transfer request) it names states, the event types
that move a case between them, guards written in CEL over the triggering event, the case
and read-only chain facts, and the events to emit. Deadlines fire from block time, never
the wall clock. Everything an evaluation reads comes from the chain, so anyone who replays
the chain re-executes every contract to the same results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Protocol, Union, get_args, get_origin

import cel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from govchain.protocol.envelope import PRINCIPAL_PATTERN, TYPE_PATTERN
from govchain.protocol.errors import GovChainError
from govchain.protocol.registry import EVENT_TYPES

NEW = "(new)"
"""The pseudo-state of a case that does not exist yet: a transition from it opens the case."""

VARIABLES = frozenset({"event", "case", "block"})
FAILED = "(failed)"
"""The state a case enters when an expression fails at run time and the contract has no
``on_error`` outcome (or that outcome fails too): terminal, with the error in ``failed``."""
RESERVED_CASE_FIELDS = frozenset({"key", "state", "entered_at", "failed"})


class ContractError(GovChainError, ValueError):
    """A contract definition is invalid, or an expression failed while a case was evaluated."""


# ---------------------------------------------------------------------------------------------
# Static types: the common-expression-language package (the Rust ``cel`` crate) parses and
# evaluates but has no type checker and exposes no AST. So deployment parses every expression
# twice: with ``cel.compile`` (the syntax the engine will run) and with the small parser below,
# over the subset of CEL contracts use, then infers its type against declared variables and
# function signatures, much as cel-go's checker does with declarations.
# ---------------------------------------------------------------------------------------------


class CelType:
    """A CEL type: a primitive, ``list(T)``, ``map(K, V)``, an object with known fields, or dyn."""

    __slots__ = ("kind", "args", "fields", "label")

    def __init__(self, kind: str, args: tuple[CelType, ...] = (), fields: dict[str, CelType] | None = None,
                 label: str = "") -> None:
        self.kind, self.args, self.fields, self.label = kind, args, fields, label

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CelType) and self.kind == other.kind and self.args == other.args
                and self.fields == other.fields)

    def __hash__(self) -> int:
        return hash((self.kind, self.args))

    def __repr__(self) -> str:
        if self.kind == "list":
            return f"list({self.args[0]!r})"
        if self.kind == "map":
            return f"map({self.args[0]!r}, {self.args[1]!r})"
        if self.kind == "object":
            return self.label or "map"
        return self.kind


DYN, INT, UINT, DOUBLE, STRING, BOOL, BYTES, NULL, TIMESTAMP, DURATION, TYPE = (
    CelType(k) for k in ("dyn", "int", "uint", "double", "string", "bool", "bytes", "null_type", "timestamp",
                         "duration", "type"))
NUMBERS = ("int", "uint", "double")


def list_of(element: CelType) -> CelType:
    return CelType("list", (element,))


def map_of(key: CelType, value: CelType) -> CelType:
    return CelType("map", (key, value))


def object_of(label: str, fields: dict[str, CelType]) -> CelType:
    return CelType("object", fields=fields, label=label)


def _mappish(t: CelType) -> bool:
    return t.kind in ("map", "object")


def assignable(expected: CelType, actual: CelType) -> bool:
    """Whether a value of type ``actual`` may stand where ``expected`` is declared."""
    if expected.kind == "dyn" or actual.kind == "dyn" or actual.kind == "null_type":
        return True
    if expected.kind == "list" and actual.kind == "list":
        return assignable(expected.args[0], actual.args[0])
    if _mappish(expected) and _mappish(actual):
        if expected.kind == "object" and actual.kind == "object":
            return expected.fields == actual.fields
        value = expected.args[1] if expected.kind == "map" else None
        if value is not None and actual.kind == "map":
            return assignable(expected.args[0], actual.args[0]) and assignable(value, actual.args[1])
        return True  # an object is a map at run time: leave the rest to run time
    return expected.kind == actual.kind


def join(a: CelType, b: CelType) -> CelType | None:
    """The type both values have (the more specific one where one is dyn), or None."""
    if a.kind == "dyn" or (a.kind == "null_type" and b.kind != "dyn"):
        return b
    if b.kind == "dyn" or b.kind == "null_type":
        return a
    if a.kind == "list" and b.kind == "list":
        element = join(a.args[0], b.args[0])
        return None if element is None else list_of(element)
    if a.kind == "map" and b.kind == "map":
        key, value = join(a.args[0], b.args[0]), join(a.args[1], b.args[1])
        return None if key is None or value is None else map_of(key, value)
    if a.kind == "object" and b.kind == "object":
        return a if a.fields == b.fields else map_of(STRING, DYN)
    if _mappish(a) and _mappish(b):
        return map_of(STRING, DYN)
    return a if a.kind == b.kind else None


def type_of_annotation(annotation: Any) -> CelType:
    """The CEL type of a pydantic field, as its value appears in an event's JSON ``data``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return type_of_annotation(args[0])
    if origin in (Union, UnionType):
        options = [type_of_annotation(a) for a in args if a is not type(None)]
        joined: CelType | None = options[0] if options else NULL
        for option in options[1:]:
            joined = None if joined is None else join(joined, option)
        return joined or DYN
    if origin is Literal:
        kinds = {type_of_annotation(type(a)) for a in args}
        return kinds.pop() if len(kinds) == 1 else DYN
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple):
        element = [a for a in args if a is not Ellipsis]
        return list_of(type_of_annotation(element[0]) if len(element) == 1 else DYN)
    if origin is dict or annotation is dict:
        return map_of(type_of_annotation(args[0]), type_of_annotation(args[1])) if args else map_of(DYN, DYN)
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return BOOL
        if issubclass(annotation, Enum):
            return STRING if issubclass(annotation, str) else DYN
        if issubclass(annotation, int):
            return INT
        if issubclass(annotation, float):
            return DOUBLE
        if issubclass(annotation, (str, date, datetime)):
            return STRING
        if issubclass(annotation, BaseModel):
            return model_type(annotation)
    return DYN


def model_type(model: type[BaseModel], label: str | None = None) -> CelType:
    fields = {info.alias or name: type_of_annotation(info.annotation) for name, info in model.model_fields.items()}
    return object_of(label or model.__name__, fields)


# -- a parser for the CEL subset ----------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<double>(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<uint>(?:0[xX][0-9a-fA-F]+|\d+)[uU])
  | (?P<int>0[xX][0-9a-fA-F]+|\d+)
  | (?P<string>(?P<prefix>[rRbB]{0,2})(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
""", re.VERBOSE)
_MACROS = {"all", "exists", "exists_one", "map", "filter"}

Node = tuple[Any, ...]


def parse(source: str) -> Node:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise ContractError(f"unsupported syntax at {source[position:position + 10]!r}")
        position = match.end()
        kind = match.lastgroup if match.lastgroup != "prefix" else "string"
        if kind == "string":
            kind = "bytes" if "b" in (match.group("prefix") or "").lower() else "string"
        if kind != "space":
            text = match.group(0)
            if kind == "ident" and text in ("true", "false", "null", "in"):
                kind = text if text != "true" and text != "false" else "bool"
            tokens.append((kind, text))
    parser = _Parser(tokens)
    node = parser.expr()
    if parser.peek() is not None:
        raise ContractError(f"unsupported syntax near {parser.peek()!r}")
    return node


class _Parser:
    _RELATIONS = ("==", "!=", "<", "<=", ">", ">=", "in")

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise ContractError("unexpected end of expression")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ContractError(f"expected {expected!r}, found {token[1]!r}")
        self.at += 1
        return token

    def expr(self) -> Node:
        condition = self.binary(0)
        if self.peek() == "?":
            self.take()
            then = self.binary(0)
            self.take(":")
            return ("cond", condition, then, self.expr())
        return condition

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), _RELATIONS, ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.at < len(self.tokens) and self.tokens[self.at][0] in ("op", "in") and self.peek() in self._LEVELS[level]:
            op = self.take()[1]
            node = ("binary", op, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        if self.peek() in ("!", "-") and self.tokens[self.at][0] == "op":
            op = self.take()[1]
            return ("unary", op, self.unary())
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "ident":
                    raise ContractError(f"expected a field name after '.', found {name!r}")
                if self.peek() == "(":
                    node = ("call", name, node, self.arguments(")"))
                else:
                    node = ("select", node, name)
            else:
                index = self.expr()
                self.take("]")
                node = ("index", node, index)
        return node

    def arguments(self, close: str) -> list[Node]:
        self.take()
        items: list[Node] = []
        while self.peek() != close:
            items.append(self.expr())
            if self.peek() != ",":
                break
            self.take()
        self.take(close)
        return items

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "ident":
            if self.peek() == "(":
                return ("call", text, None, self.arguments(")"))
            return ("ident", text)
        if text == "(" and kind == "op":
            node = self.expr()
            self.take(")")
            return node
        if text == "[" and kind == "op":
            self.at -= 1
            return ("list", self.arguments("]"))
        if text == "{" and kind == "op":
            entries: list[tuple[Node, Node]] = []
            while self.peek() != "}":
                key = self.expr()
                self.take(":")
                entries.append((key, self.expr()))
                if self.peek() != ",":
                    break
                self.take()
            self.take("}")
            return ("map", entries)
        literal = {"int": INT, "uint": UINT, "double": DOUBLE, "string": STRING, "bytes": BYTES, "bool": BOOL,
                   "null": NULL}.get(kind)
        if literal is None:
            raise ContractError(f"unsupported syntax near {text!r}")
        value = text.strip("'\"") if kind == "string" and not text[:1].lower() in ("r", "b") else None
        return ("literal", literal, value)


# -- function declarations ------------------------------------------------------------------------

Overload = tuple[tuple[CelType, ...], CelType]
_ANY_MAP = map_of(DYN, DYN)
_ANY_LIST = list_of(DYN)
FUNCTIONS: dict[str, list[Overload]] = {
    # GovChain's chain facts (see Facts) and date helpers.
    "principal_kind": [((STRING,), STRING)],
    "principal_department": [((STRING,), STRING)],
    "has_role": [((STRING, STRING), BOOL)],
    "document_registered": [((STRING,), BOOL)],
    "document_department": [((STRING,), STRING)],
    "business_owner": [((STRING,), STRING)],
    "parcel_owner": [((STRING,), STRING)],
    "date_of": [((STRING,), STRING)],
    "add_days": [((STRING, INT), STRING)],
    # The built-ins of the Rust cel crate this engine runs on (a receiver counts as the first argument).
    "size": [((STRING,), INT), ((BYTES,), INT), ((_ANY_LIST,), INT), ((_ANY_MAP,), INT)],
    "int": [((t,), INT) for t in (INT, UINT, DOUBLE, STRING, TIMESTAMP)],
    "uint": [((t,), UINT) for t in (INT, UINT, DOUBLE, STRING)],
    "double": [((t,), DOUBLE) for t in (INT, UINT, DOUBLE, STRING)],
    "string": [((DYN,), STRING)],
    "bytes": [((STRING,), BYTES), ((BYTES,), BYTES)],
    "timestamp": [((STRING,), TIMESTAMP), ((INT,), TIMESTAMP), ((TIMESTAMP,), TIMESTAMP)],
    "duration": [((STRING,), DURATION), ((DURATION,), DURATION)],
    "type": [((DYN,), TYPE)],
    "dyn": [((DYN,), DYN)],
    "contains": [((STRING, STRING), BOOL)],
    "startsWith": [((STRING, STRING), BOOL)],
    "endsWith": [((STRING, STRING), BOOL)],
    "matches": [((STRING, STRING), BOOL)],
    **{name: [((TIMESTAMP,), INT), ((TIMESTAMP, STRING), INT)]
       for name in ("getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
                    "getMilliseconds")},
    **{name: [((TIMESTAMP,), INT), ((TIMESTAMP, STRING), INT), ((DURATION,), INT)]
       for name in ("getHours", "getMinutes", "getSeconds")},
}
FACT_FUNCTIONS = frozenset(FUNCTIONS) - {"size", "int", "uint", "double", "string", "bytes", "timestamp",
                                          "duration", "type", "dyn", "contains", "startsWith", "endsWith", "matches"}


class TypeChecker:
    """Infers the type of a parsed expression under declared variables; refuses what cannot run."""

    def __init__(self, variables: dict[str, CelType]) -> None:
        self.variables = variables

    def check(self, node: Node) -> CelType:
        kind = node[0]
        if kind == "literal":
            return node[1]
        if kind == "ident":
            if node[1] not in self.variables:
                raise ContractError(f"unknown name {node[1]!r}; use {', '.join(sorted(VARIABLES))}")
            return self.variables[node[1]]
        if kind == "select":
            return self.field(self.check(node[1]), node[2])
        if kind == "index":
            return self.index(self.check(node[1]), self.check(node[2]), node[2])
        if kind == "list":
            element: CelType | None = DYN
            types = [self.check(item) for item in node[1]]
            if types:
                element = types[0]
                for t in types[1:]:
                    element = join(element, t) if element is not None else None
            return list_of(element or DYN)
        if kind == "map":
            keys = {repr(self.check(k)) for k, _ in node[1]}
            values = [self.check(v) for _, v in node[1]]
            if keys - {"string", "int", "uint", "bool", "dyn"}:
                raise ContractError(f"a map key must be a string, int, uint or bool, not {sorted(keys)}")
            value: CelType | None = values[0] if values else DYN
            for t in values[1:]:
                value = join(value, t) if value is not None else None
            return map_of(DYN if len(keys) != 1 else self.check(node[1][0][0]), value or DYN)
        if kind == "unary":
            operand = self.check(node[2])
            if node[1] == "!":
                self.expect(operand, BOOL, "the operand of '!'")
                return BOOL
            if operand.kind not in ("int", "double", "duration", "dyn"):
                raise ContractError(f"cannot negate a {operand!r}")
            return operand
        if kind == "binary":
            return self.binary(node[1], node[2], node[3])
        if kind == "cond":
            self.expect(self.check(node[1]), BOOL, "the condition of '?:'")
            then, otherwise = self.check(node[2]), self.check(node[3])
            joined = join(then, otherwise)
            if joined is None:
                raise ContractError(f"the branches of '?:' differ in type: {then!r} and {otherwise!r}")
            return joined
        if kind == "call":
            return self.call(node[1], node[2], node[3])
        raise ContractError(f"unsupported syntax {kind}")

    @staticmethod
    def expect(actual: CelType, wanted: CelType, what: str) -> None:
        if not assignable(wanted, actual):
            raise ContractError(f"{what} must be a {wanted!r}, not a {actual!r}")

    def field(self, operand: CelType, name: str) -> CelType:
        if operand.kind == "dyn":
            return DYN
        if operand.kind == "object":
            assert operand.fields is not None
            if name not in operand.fields:
                known = ", ".join(sorted(operand.fields)) or "none"
                raise ContractError(f"{operand!r} has no field {name!r} (fields: {known})")
            return operand.fields[name]
        if operand.kind == "map":
            self.expect(STRING, operand.args[0], f"the keys of {operand!r}")
            return operand.args[1]
        raise ContractError(f"cannot read field {name!r} of a {operand!r}")

    def index(self, operand: CelType, index: CelType, index_node: Node) -> CelType:
        if operand.kind == "dyn":
            return DYN
        if operand.kind == "list":
            if index.kind not in ("int", "uint", "dyn"):
                raise ContractError(f"a list index must be an int, not a {index!r}")
            return operand.args[0]
        if operand.kind == "map":
            self.expect(index, operand.args[0], "the key")
            return operand.args[1]
        if operand.kind == "object":
            self.expect(index, STRING, "the key")
            if index_node[0] == "literal" and index_node[2] is not None:
                return self.field(operand, index_node[2])
            return DYN
        raise ContractError(f"cannot index a {operand!r}")

    def binary(self, op: str, left_node: Node, right_node: Node) -> CelType:
        left, right = self.check(left_node), self.check(right_node)
        both = (left.kind, right.kind)
        if op in ("&&", "||"):
            self.expect(left, BOOL, f"the left operand of {op!r}")
            self.expect(right, BOOL, f"the right operand of {op!r}")
            return BOOL
        if op in ("==", "!="):
            if join(left, right) is None and not (left.kind in NUMBERS and right.kind in NUMBERS):
                raise ContractError(f"cannot compare a {left!r} with a {right!r} ({op!r} would never hold)")
            return BOOL
        if op in ("<", "<=", ">", ">="):
            if "dyn" in both:
                return BOOL
            if not ((left.kind in NUMBERS and right.kind in NUMBERS)
                    or (left.kind == right.kind and left.kind in ("string", "bytes", "bool", "timestamp", "duration"))):
                raise ContractError(f"cannot order a {left!r} and a {right!r} with {op!r}")
            return BOOL
        if op == "in":
            if right.kind == "dyn":
                return BOOL
            if right.kind == "list":
                element = right.args[0]
                if join(left, element) is None and not (left.kind in NUMBERS and element.kind in NUMBERS):
                    raise ContractError(f"a {left!r} is never in a {right!r}")
                return BOOL
            if _mappish(right):
                self.expect(left, right.args[0] if right.kind == "map" else STRING, "the key looked up with 'in'")
                return BOOL
            raise ContractError(f"'in' needs a list or a map on its right, not a {right!r}")
        return self.arithmetic(op, left, right)

    def arithmetic(self, op: str, left: CelType, right: CelType) -> CelType:
        allowed: dict[str, dict[tuple[str, str], CelType | None]] = {
            "+": {("int", "int"): INT, ("uint", "uint"): UINT, ("double", "double"): DOUBLE,
                  ("string", "string"): STRING, ("bytes", "bytes"): BYTES, ("list", "list"): None,
                  ("timestamp", "duration"): TIMESTAMP, ("duration", "timestamp"): TIMESTAMP,
                  ("duration", "duration"): DURATION},
            "-": {("int", "int"): INT, ("uint", "uint"): UINT, ("double", "double"): DOUBLE,
                  ("timestamp", "timestamp"): DURATION, ("timestamp", "duration"): TIMESTAMP,
                  ("duration", "duration"): DURATION},
            "*": {("int", "int"): INT, ("uint", "uint"): UINT, ("double", "double"): DOUBLE},
            "/": {("int", "int"): INT, ("uint", "uint"): UINT, ("double", "double"): DOUBLE},
            "%": {("int", "int"): INT, ("uint", "uint"): UINT},
        }[op]
        if left.kind == "dyn" or right.kind == "dyn":
            known = right if left.kind == "dyn" else left
            if known.kind == "dyn":
                return DYN
            if not any(known.kind in pair for pair in allowed):
                raise ContractError(f"{op!r} is not defined for a {known!r}")
            if known.kind in (*NUMBERS, "string", "bytes"):
                return known
            return list_of(DYN) if known.kind == "list" else DYN
        pair = (left.kind, right.kind)
        if pair not in allowed:
            hint = "; convert with int(), uint(), double() or string()" if left.kind != right.kind else ""
            raise ContractError(f"{op!r} is not defined for a {left!r} and a {right!r}{hint}")
        result = allowed[pair]
        if result is None:  # list + list
            return list_of(join(left.args[0], right.args[0]) or DYN)
        return result

    def call(self, name: str, target: Node | None, argument_nodes: list[Node]) -> CelType:
        if target is not None and name in _MACROS:
            return self.macro(name, self.check(target), argument_nodes)
        if name == "has" and target is None:
            if len(argument_nodes) != 1 or argument_nodes[0][0] != "select":
                raise ContractError("has() takes one field selection, as in has(event.data.x)")
            operand = self.check(argument_nodes[0][1])
            if not (_mappish(operand) or operand.kind == "dyn"):
                raise ContractError(f"has() needs a map or an object, not a {operand!r}")
            return BOOL
        if name not in FUNCTIONS:
            raise ContractError(f"unknown function {name!r}")
        arguments = ([self.check(target)] if target is not None else []) + [self.check(a) for a in argument_nodes]
        overloads = FUNCTIONS[name]
        arities = sorted({len(params) for params, _ in overloads})
        if len(arguments) not in arities:
            counted = " or ".join(str(a) for a in arities)
            raise ContractError(f"{name}() takes {counted} argument(s), {len(arguments)} given"
                                f"{' (the receiver counts as the first)' if target is not None else ''}")
        results = [result for params, result in overloads
                   if len(params) == len(arguments) and all(map(assignable, params, arguments))]
        if not results:
            declared = "; ".join(f"({', '.join(map(repr, p))}) -> {r!r}" for p, r in overloads)
            raise ContractError(f"no overload of {name}() for ({', '.join(map(repr, arguments))}); declared: {declared}")
        return results[0] if all(r == results[0] for r in results) else DYN

    def macro(self, name: str, target: CelType, argument_nodes: list[Node]) -> CelType:
        if len(argument_nodes) not in ((2, 3) if name == "map" else (2,)) or argument_nodes[0][0] != "ident":
            raise ContractError(f"{name}() takes a variable name and an expression, as in xs.{name}(x, ...)")
        if target.kind == "list":
            element = target.args[0]
        elif target.kind == "map":
            element = target.args[0]
        elif target.kind == "object":
            element = STRING
        elif target.kind == "dyn":
            element = DYN
        else:
            raise ContractError(f"{name}() needs a list or a map, not a {target!r}")
        variable = argument_nodes[0][1]
        if variable in VARIABLES:
            raise ContractError(f"{name}() may not rebind {variable!r}")
        inner = TypeChecker({**self.variables, variable: element})
        body = [inner.check(node) for node in argument_nodes[1:]]
        if name in ("all", "exists", "exists_one", "filter") or len(body) == 2:
            inner.expect(body[0], BOOL, f"the predicate of {name}()")
        if name == "map":
            return list_of(body[-1])
        if name == "filter":
            return list_of(element)
        return BOOL


def infer_type(source: str, variables: dict[str, CelType], *, where: str) -> CelType:
    """Parse ``source`` as CEL (with the engine's parser, then with ours) and infer its type."""
    try:
        cel.compile(source)
    except ValueError as exc:
        raise ContractError(f"{where}: {str(exc).splitlines()[0]}") from None
    try:
        return TypeChecker(variables).check(parse(source))
    except ContractError as exc:
        raise ContractError(f"{where}: {exc}") from None
    except RecursionError:
        raise ContractError(f"{where}: expression nested too deeply") from None


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Emit(Spec):
    """An event the contract engine publishes: each data field is a CEL expression."""

    type: str = Field(pattern=TYPE_PATTERN)
    data: dict[str, str]


class Guard(Spec):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    expr: str = Field(max_length=2000)


class Outcome(Spec):
    """Where a case goes and what is emitted (on success, on a failed guard, on a deadline)."""

    to: str
    set: dict[str, str] = Field(default_factory=dict, description="case variable → CEL expression")
    emit: list[Emit] = Field(default_factory=list)


class Transition(Spec):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    on: str = Field(pattern=TYPE_PATTERN, description="the triggering event type")
    from_: list[str] = Field(alias="from", min_length=1, description=f"states it leaves; {NEW!r} opens a case")
    when: str | None = Field(default=None, description="CEL: does this transition apply? (else try the next)")
    guards: list[Guard] = Field(default_factory=list, description="conditions; the first that fails is reported")
    then: Outcome
    otherwise: Outcome | None = Field(default=None, description="when a guard is false (or errors)")


class Deadline(Spec):
    state: str
    after_seconds: int = Field(gt=0, le=10 * 365 * 86400)
    then: Outcome


class ContractDefinition(Spec):
    contract_id: str = Field(pattern=PRINCIPAL_PATTERN)
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    case_key: str = Field(description="CEL over the triggering event: which case it belongs to")
    states: list[str] = Field(min_length=1)
    transitions: list[Transition] = Field(min_length=1)
    deadlines: list[Deadline] = Field(default_factory=list)
    on_error: Outcome | None = Field(
        default=None,
        description=f"where a case goes when an expression fails at run time (case.failed holds the error); "
                    f"without it, or if it fails too, the case ends in {FAILED!r}",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ContractDefinition:
        """Refuse at deployment what could only fail later: unknown states, event types, names,
        functions, fields, and expressions whose types cannot work."""
        _DefinitionChecker(self).check()
        return self

    def triggers(self) -> set[str]:
        return {t.on for t in self.transitions}


def payload_model(name: str, version: int | None = None) -> type[BaseModel] | None:
    """The registered model of an event type's data: of ``version``, or of its only version."""
    found = [t for t in EVENT_TYPES if t.name == name and (version is None or t.version == version)]
    return found[0].model if len(found) == 1 else None


def _known_type(name: str) -> bool:
    return any(t.name == name for t in EVENT_TYPES)


_NOT_JSON = ("timestamp", "duration", "bytes", "type")
_BLOCK = object_of("block", {"height": INT, "time": STRING})
_NO_EVENT = object_of("event (a deadline has no triggering event)", {})


def _event_var(on: str) -> CelType:
    model = payload_model(on)
    data = model_type(model, f"{on} data") if model is not None else map_of(STRING, DYN)
    return object_of(f"event ({on})", {"id": STRING, "type": STRING, "source": STRING, "time": STRING, "data": data})


class _DefinitionChecker:
    """Types every expression of a definition against what the engine binds when it runs it."""

    def __init__(self, definition: ContractDefinition) -> None:
        self.d = definition
        self.states = set(definition.states)
        self.vars: dict[str, CelType] = {}

    def check(self) -> None:
        from govchain.protocol import catalog  # noqa: F401  (every event type registered; imports this module)

        d = self.d
        for reserved in (NEW, FAILED):
            if reserved in self.states:
                raise ContractError(f"state {reserved!r} is reserved")
        for t in d.transitions:
            if not _known_type(t.on):
                raise ContractError(f"transition {t.name}: unknown event type {t.on!r} (not in the type registry)")
            for state in t.from_:
                if state != NEW and state not in self.states:
                    raise ContractError(f"transition {t.name}: unknown state {state!r}")
        for deadline in d.deadlines:
            if deadline.state not in self.states:
                raise ContractError(f"deadline: unknown state {deadline.state!r}")
        self.vars = self._case_variables()
        for on in sorted(d.triggers()):  # case_key runs before any case exists
            key = infer_type(d.case_key, {"event": _event_var(on), "case": object_of("case (none yet)", {}),
                                          "block": object_of("block (not bound in case_key)", {})},
                             where=f"case_key (on {on})")
            if key.kind not in ("string", "int", "uint", "dyn"):
                raise ContractError(f"case_key (on {on}) must be a string or an int, not a {key!r}")
        for t in d.transitions:
            opens = t.from_ == [NEW]
            event = _event_var(t.on)
            before = self._case(opened=not opens)
            env = {"event": event, "case": before, "block": _BLOCK}
            where = f"transition {t.name}"
            if t.when is not None:
                self._bool(t.when, env, f"{where}.when")
            for g in t.guards:
                self._bool(g.expr, env, f"{where}.guard {g.name}")
            self._outcome(t.then, env, f"{where}.then", opened=not opens, failed=False)
            if t.otherwise is not None:
                env = {**env, "case": self._case(opened=not opens, failed=True)}
                self._outcome(t.otherwise, env, f"{where}.otherwise", opened=not opens, failed=True)
        for deadline in d.deadlines:
            env = {"event": _NO_EVENT, "case": self._case(), "block": _BLOCK}
            self._outcome(deadline.then, env, f"deadline on {deadline.state}", opened=True, failed=False)
        if d.on_error is not None:  # reached from any transition or deadline: the event may be absent
            env = {"event": DYN, "case": self._case(failed=True), "block": _BLOCK}
            self._outcome(d.on_error, env, "on_error", opened=False, failed=True)

    def _case_variables(self) -> dict[str, CelType]:
        """The case's variables and their types, from every ``set`` (a first pass, with case as dyn)."""
        found: dict[str, CelType] = {}
        env_for: list[tuple[Outcome, dict[str, CelType]]] = []
        for t in self.d.transitions:
            env = {"event": _event_var(t.on), "case": DYN, "block": _BLOCK}
            env_for += [(t.then, env)] + ([(t.otherwise, env)] if t.otherwise is not None else [])
        env_for += [(dl.then, {"event": _NO_EVENT, "case": DYN, "block": _BLOCK}) for dl in self.d.deadlines]
        if self.d.on_error is not None:
            env_for.append((self.d.on_error, {"event": DYN, "case": DYN, "block": _BLOCK}))
        for outcome, env in env_for:
            for name, expr in outcome.set.items():
                if name in RESERVED_CASE_FIELDS:
                    raise ContractError(f"set.{name}: {name!r} is a reserved case field")
                try:
                    found_type = infer_type(expr, env, where=name)
                except ContractError:
                    found_type = DYN  # reported with its context in the second pass
                joined = join(found.get(name, found_type), found_type)
                found[name] = joined if joined is not None else DYN
        return found

    def _case(self, *, opened: bool = True, failed: bool = False, extra: dict[str, CelType] | None = None
              ) -> CelType:
        """The ``case`` a transition sees: a case it opens has no variables yet."""
        fields = {"key": STRING, "state": STRING, "entered_at": STRING}
        fields.update(self.vars if opened else (extra or {}))
        if failed:
            fields["failed"] = STRING
        return object_of("case", fields)

    @staticmethod
    def _bool(source: str, env: dict[str, CelType], where: str) -> None:
        found = infer_type(source, env, where=where)
        if not assignable(BOOL, found):
            raise ContractError(f"{where}: must be a bool, not a {found!r}")

    def _outcome(self, outcome: Outcome, env: dict[str, CelType], where: str, *, opened: bool, failed: bool) -> None:
        if outcome.to not in self.states:
            raise ContractError(f"{where}: unknown state {outcome.to!r}")
        for name, expr in outcome.set.items():  # case variables are stored as JSON
            if (found := infer_type(expr, env, where=f"{where}.set.{name}")).kind in _NOT_JSON:
                raise ContractError(f"{where}.set.{name}: a {found!r} is not plain JSON; convert it with string()")
        after = {**env, "case": self._case(opened=opened, failed=failed,
                                            extra={n: self.vars.get(n, DYN) for n in outcome.set})}
        for i, emit in enumerate(outcome.emit):
            self._emit(emit, after, f"{where}.emit[{i}] {emit.type}")

    @staticmethod
    def _emit(emit: Emit, env: dict[str, CelType], where: str) -> None:
        model = payload_model(emit.type, 1)
        if model is None:
            raise ContractError(f"{where}: unknown event type {emit.type!r} (not in the type registry at v1)")
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        unknown = sorted(set(emit.data) - set(fields))
        if unknown:
            raise ContractError(f"{where}: {emit.type} has no field(s) {unknown}; its fields: {sorted(fields)}")
        missing = sorted(name for name, info in fields.items() if info.is_required() and name not in emit.data)
        if missing:
            raise ContractError(f"{where}: required field(s) of {emit.type} not emitted: {missing}")
        for name, expr in emit.data.items():
            found = infer_type(expr, env, where=f"{where}.{name}")
            if found.kind in _NOT_JSON:
                raise ContractError(f"{where}.{name}: a {found!r} is not plain JSON; convert it with string()")
            wanted = type_of_annotation(fields[name].annotation)
            if not assignable(wanted, found):
                raise ContractError(f"{where}.{name}: {emit.type} wants a {wanted!r}, the expression is a {found!r}")


class Facts(Protocol):
    """Read-only chain facts a guard may consult, as of the block being evaluated."""

    def principal_kind(self, principal: str) -> str: ...
    def principal_department(self, principal: str) -> str: ...
    def has_role(self, principal: str, role: str) -> bool: ...
    def document_registered(self, sha256: str) -> bool: ...
    def document_department(self, sha256: str) -> str: ...
    def business_owner(self, business_id: str) -> str: ...
    def parcel_owner(self, parcel_id: str) -> str: ...


@dataclass
class Case:
    contract_id: str
    key: str
    state: str
    vars: dict[str, Any] = field(default_factory=dict)
    entered_at: str = ""
    """Block time at which the case entered its state (deadlines count from it)."""

    def as_cel(self) -> dict[str, Any]:
        return {"key": self.key, "state": self.state, "entered_at": self.entered_at, **self.vars}


@dataclass(frozen=True)
class Emission:
    type: str
    data: dict[str, Any]
    cause: str
    """What produced it (``transition:<name>``, ``deadline:<state>``, ``error:<step>``): part of the event id."""


@dataclass
class Step:
    """The result of one trigger or deadline on one case."""

    case: Case
    transition: str
    emissions: list[Emission]
    failed: str | None = None
    error: bool = False
    """Whether the case was rejected because an expression failed at run time."""


class Evaluator:
    """Evaluates CEL for a contract over one activation, with the chain facts bound."""

    def __init__(self, facts: Facts) -> None:
        self.context_functions: dict[str, Callable[..., Any]] = {
            "principal_kind": facts.principal_kind,
            "principal_department": facts.principal_department,
            "has_role": facts.has_role,
            "document_registered": facts.document_registered,
            "document_department": facts.document_department,
            "business_owner": facts.business_owner,
            "parcel_owner": facts.parcel_owner,
            "date_of": lambda ts: str(ts)[:10],
            "add_days": _add_days,
            "dyn": lambda value: value,
        }

    def __call__(self, source: str, variables: dict[str, Any]) -> Any:
        context = cel.Context()
        for name, function in self.context_functions.items():
            context.add_function(name, function)
        for name, value in variables.items():
            context.add_variable(name, value)
        try:
            return cel.compile(source).execute(context)
        except Exception as exc:  # CEL raises plain Python errors (TypeError, ZeroDivisionError, ...)
            raise ContractError(f"{type(exc).__name__}: {exc}") from None


def _add_days(day: str, days: int) -> str:
    return (date.fromisoformat(str(day)[:10]) + timedelta(days=int(days))).isoformat()


def case_key(definition: ContractDefinition, event: dict[str, Any], evaluate: Evaluator) -> str:
    key = evaluate(definition.case_key, {"event": event, "case": {}, "block": {}})
    return str(key)


def _truth(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ContractError(f"{what} gave {value!r}, not a bool")
    return value


def step(
    definition: ContractDefinition,
    case: Case | None,
    key: str,
    event: dict[str, Any],
    block: dict[str, Any],
    evaluate: Evaluator,
) -> Step | None:
    """Apply the first transition that matches ``event`` for this case; None if none does.

    A ``when`` that is false skips the transition (the next is tried). A guard that is false
    takes the ``otherwise`` branch (reporting which guard failed); without one, the transition
    does not apply. An expression that *errors* (in ``when``, a guard without ``otherwise``,
    ``set`` or ``emit``) rejects the case with the error: see :func:`reject`. Never raises.
    """
    state = NEW if case is None else case.state
    current = case or Case(definition.contract_id, key, NEW, entered_at=block["time"])
    for transition in definition.transitions:
        if transition.on != event["type"] or state not in transition.from_:
            continue
        variables = {"event": event, "case": current.as_cel(), "block": block}
        try:
            if transition.when is not None and not _truth(evaluate(transition.when, variables), "when"):
                continue
        except ContractError as exc:
            return reject(definition, current, variables, block, transition.name, f"when (error: {exc})", evaluate)
        failed, error = _first_failed_guard(transition, variables, evaluate)
        if failed is None:
            return _enter_or_reject(definition, current, transition.then, variables, evaluate, block,
                                    f"transition:{transition.name}", transition.name, None)
        if transition.otherwise is not None:
            variables["case"] = {**current.as_cel(), "failed": failed}
            return _enter_or_reject(definition, current, transition.otherwise, variables, evaluate, block,
                                    f"otherwise:{transition.name}", transition.name, failed)
        if error:
            return reject(definition, current, variables, block, transition.name, failed, evaluate)
    return None


def expire(definition: ContractDefinition, case: Case, block: dict[str, Any], evaluate: Evaluator) -> Step | None:
    """Fire the deadline of the case's state if block time has passed it. Never raises."""
    for deadline in definition.deadlines:
        if deadline.state == case.state and _seconds_between(case.entered_at, block["time"]) >= deadline.after_seconds:
            variables = {"event": {}, "case": case.as_cel(), "block": block}
            return _enter_or_reject(definition, case, deadline.then, variables, evaluate, block,
                                    f"deadline:{deadline.state}", f"deadline:{deadline.state}", None)
    return None


def reject(
    definition: ContractDefinition, case: Case, variables: dict[str, Any], block: dict[str, Any], step_name: str,
    reason: str, evaluate: Evaluator | None = None,
) -> Step:
    """An expression failed at run time: the case takes the contract's ``on_error`` outcome
    (with ``case.failed`` = the error), or, without one or if that fails too, ends in FAILED."""
    reason = _short(reason)
    if definition.on_error is not None and evaluate is not None:
        on_error = {**variables, "case": {**case.as_cel(), "failed": reason}}
        try:
            result = _enter(case, definition.on_error, on_error, evaluate, block, f"error:{step_name}",
                            f"error:{step_name}", reason)
        except ContractError as exc:
            reason = _short(f"{reason}; on_error failed too: {exc}")
        else:
            result.error = True
            return result
    failed = Case(case.contract_id, case.key, FAILED, {**case.vars}, entered_at=block["time"])
    return Step(failed, f"error:{step_name}", [], reason, error=True)


def _first_failed_guard(
    transition: Transition, variables: dict[str, Any], evaluate: Evaluator
) -> tuple[str | None, bool]:
    """The first guard that is false (or errors), and whether it errored."""
    for guard in transition.guards:
        try:
            if not _truth(evaluate(guard.expr, variables), f"guard {guard.name}"):
                return guard.name, False
        except ContractError as exc:
            return _short(f"{guard.name} (error: {exc})"), True
    return None, False


def _short(reason: str, limit: int = 300) -> str:
    """Error texts go into result events, whose fields have length limits."""
    return reason if len(reason) <= limit else reason[:limit - 3] + "..."


def _enter_or_reject(
    definition: ContractDefinition, case: Case, outcome: Outcome, variables: dict[str, Any], evaluate: Evaluator,
    block: dict[str, Any], cause: str, step_name: str, failed: str | None,
) -> Step:
    try:
        return _enter(case, outcome, variables, evaluate, block, cause, step_name, failed)
    except ContractError as exc:
        return reject(definition, case, variables, block, step_name, f"{cause} (error: {exc})", evaluate)


def _enter(
    case: Case, outcome: Outcome, variables: dict[str, Any], evaluate: Evaluator, block: dict[str, Any],
    cause: str, transition: str, failed: str | None,
) -> Step:
    new_vars = dict(case.vars)
    for name, expr in outcome.set.items():
        new_vars[name] = _plain(evaluate(expr, variables), f"set.{name}")
    moved = Case(case.contract_id, case.key, outcome.to, new_vars,
                 entered_at=block["time"] if outcome.to != case.state else case.entered_at)
    after = {**variables, "case": {**moved.as_cel(), **({"failed": failed} if failed else {})}}
    emissions = [
        Emission(emit.type, {name: _plain(evaluate(expr, after), name) for name, expr in emit.data.items()}, cause)
        for emit in outcome.emit
    ]
    return Step(moved, transition, emissions, failed)


def _plain(value: Any, name: str) -> Any:
    """Emitted data and case variables must be plain JSON (CEL can yield timestamps and the like)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ContractError(f"{name} is not plain JSON: {value!r}") from None
    return value


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


@EVENT_TYPES.register("contract.deployed", 1, changes_state=True)
class ContractDeployed(Spec):
    """A contract definition (or a new version of one) is deployed; checked in full at deployment.

    It changes the chain state (the deployed versions of each contract), so the ledger refuses
    a second deployment of a (contract id, version), or a version below the latest one, as a
    state conflict; and, like every state-changing event, it flushes the block cutter first.
    """

    definition: ContractDefinition


@EVENT_TYPES.register("clock.tick", 1)
class ClockTick(Spec):
    """The contract engine's heartbeat: a block whose time lets deadlines fire when nothing else happens."""

    note: str = Field(default="tick", max_length=40)
