"""Static types for the CEL expressions in contracts: a parser and a type checker.

The common-expression-language package (the Rust ``cel`` crate) parses and evaluates but has
no type checker and exposes no AST. So deployment parses every expression twice: with
``cel.compile`` (the syntax the engine will run) and with the small parser here, over the
subset of CEL contracts use, then infers its type against declared variables and function
signatures, much as cel-go's checker does with declarations. A contract that does not
type-check is refused at deployment (:mod:`govchain.protocol.contracts`).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import cel
from pydantic import BaseModel

from govchain.protocol.errors import ContractError

VARIABLES = frozenset({"event", "case", "block"})
"""The names an expression may start from: the triggering event, the case, the block."""


class CelType:
    """A CEL type: a primitive, ``list(T)``, ``map(K, V)``, an object with known fields, or dyn."""

    __slots__ = ("kind", "args", "fields", "label")

    def __init__(
        self, kind: str, args: tuple[CelType, ...] = (), fields: dict[str, CelType] | None = None, label: str = ""
    ) -> None:
        self.kind, self.args, self.fields, self.label = kind, args, fields, label

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CelType)
            and self.kind == other.kind
            and self.args == other.args
            and self.fields == other.fields
        )

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
    CelType(k)
    for k in ("dyn", "int", "uint", "double", "string", "bool", "bytes", "null_type", "timestamp", "duration", "type")
)
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

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<double>(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<uint>(?:0[xX][0-9a-fA-F]+|\d+)[uU])
  | (?P<int>0[xX][0-9a-fA-F]+|\d+)
  | (?P<string>(?P<prefix>[rRbB]{0,2})(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
""",
    re.VERBOSE,
)
_MACROS = {"all", "exists", "exists_one", "map", "filter"}

Node = tuple[Any, ...]


def parse(source: str) -> Node:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise ContractError(f"unsupported syntax at {source[position : position + 10]!r}")
        position = match.end()
        kind = match.lastgroup if match.lastgroup != "prefix" else "string"
        if kind == "string":
            kind = "bytes" if "b" in (match.group("prefix") or "").lower() else "string"
        if kind != "space":
            text = match.group(0)
            if kind == "ident" and text in ("true", "false", "null", "in"):
                kind = text if text != "true" and text != "false" else "bool"
            tokens.append((kind or "string", text))  # every alternative of the pattern is named
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
        while (
            self.at < len(self.tokens)
            and self.tokens[self.at][0] in ("op", "in")
            and self.peek() in self._LEVELS[level]
        ):
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
        literal = {
            "int": INT,
            "uint": UINT,
            "double": DOUBLE,
            "string": STRING,
            "bytes": BYTES,
            "bool": BOOL,
            "null": NULL,
        }.get(kind)
        if literal is None:
            raise ContractError(f"unsupported syntax near {text!r}")
        value = text.strip("'\"") if kind == "string" and text[:1].lower() not in ("r", "b") else None
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
    **{
        name: [((TIMESTAMP,), INT), ((TIMESTAMP, STRING), INT)]
        for name in (
            "getFullYear",
            "getMonth",
            "getDate",
            "getDayOfMonth",
            "getDayOfWeek",
            "getDayOfYear",
            "getMilliseconds",
        )
    },
    **{
        name: [((TIMESTAMP,), INT), ((TIMESTAMP, STRING), INT), ((DURATION,), INT)]
        for name in ("getHours", "getMinutes", "getSeconds")
    },
}
FACT_FUNCTIONS = frozenset(FUNCTIONS) - {
    "size",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "timestamp",
    "duration",
    "type",
    "dyn",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
}


class TypeChecker:
    """Infers the type of a parsed expression under declared variables; refuses what cannot run."""

    def __init__(self, variables: dict[str, CelType]) -> None:
        self.variables = variables

    def check(self, node: Node) -> CelType:
        kind = node[0]
        if kind == "literal":
            literal: CelType = node[1]
            return literal
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
            if not (
                (left.kind in NUMBERS and right.kind in NUMBERS)
                or (left.kind == right.kind and left.kind in ("string", "bytes", "bool", "timestamp", "duration"))
            ):
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
        by_operator: dict[str, dict[tuple[str, str], CelType | None]] = {
            "+": {
                ("int", "int"): INT,
                ("uint", "uint"): UINT,
                ("double", "double"): DOUBLE,
                ("string", "string"): STRING,
                ("bytes", "bytes"): BYTES,
                ("list", "list"): None,
                ("timestamp", "duration"): TIMESTAMP,
                ("duration", "timestamp"): TIMESTAMP,
                ("duration", "duration"): DURATION,
            },
            "-": {
                ("int", "int"): INT,
                ("uint", "uint"): UINT,
                ("double", "double"): DOUBLE,
                ("timestamp", "timestamp"): DURATION,
                ("timestamp", "duration"): TIMESTAMP,
                ("duration", "duration"): DURATION,
            },
            "*": {("int", "int"): INT, ("uint", "uint"): UINT, ("double", "double"): DOUBLE},
            "/": {("int", "int"): INT, ("uint", "uint"): UINT, ("double", "double"): DOUBLE},
            "%": {("int", "int"): INT, ("uint", "uint"): UINT},
        }
        allowed = by_operator[op]
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
            raise ContractError(
                f"{name}() takes {counted} argument(s), {len(arguments)} given"
                f"{' (the receiver counts as the first)' if target is not None else ''}"
            )
        results = [
            result
            for params, result in overloads
            if len(params) == len(arguments) and all(map(assignable, params, arguments))
        ]
        if not results:
            declared = "; ".join(f"({', '.join(map(repr, p))}) -> {r!r}" for p, r in overloads)
            raise ContractError(
                f"no overload of {name}() for ({', '.join(map(repr, arguments))}); declared: {declared}"
            )
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
