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
from typing import Any, Protocol

import cel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from govchain.protocol.envelope import PRINCIPAL_PATTERN, TYPE_PATTERN
from govchain.protocol.errors import GovChainError
from govchain.protocol.registry import EVENT_TYPES

NEW = "(new)"
"""The pseudo-state of a case that does not exist yet: a transition from it opens the case."""

VARIABLES = frozenset({"event", "case", "block"})
FACT_FUNCTIONS = frozenset({
    "principal_kind", "principal_department", "has_role", "document_registered", "document_department",
    "business_owner", "parcel_owner", "date_of", "add_days",
})
CEL_BUILTINS = frozenset({
    "size", "has", "int", "uint", "double", "string", "bool", "bytes", "timestamp", "duration", "type",
    "contains", "startsWith", "endsWith", "matches", "max", "min", "getFullYear", "getMonth", "getDate",
    "getDayOfMonth", "getDayOfWeek", "getHours", "getMinutes", "getSeconds",
})
_MACRO_VARIABLE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


class ContractError(GovChainError, ValueError):
    """A contract definition is invalid, or an expression failed while a case was evaluated."""


def check_expression(source: str, *, where: str) -> None:
    """Parse a CEL expression and resolve its names: only ``event``, ``case``, ``block``, the
    comprehension variables it binds, CEL's built-ins and GovChain's fact functions."""
    try:
        program = cel.compile(source)
    except ValueError as exc:
        raise ContractError(f"{where}: {str(exc).splitlines()[0]}") from None
    references = program.references()
    bound = set(_MACRO_VARIABLE.findall(source))
    unknown_variables = set(references["variables"]) - VARIABLES - bound
    if unknown_variables:
        raise ContractError(f"{where}: unknown name(s) {sorted(unknown_variables)}; use event, case or block")
    functions = {f for f in references["functions"] if not f.startswith(("_", "@", "!"))}
    unknown_functions = functions - CEL_BUILTINS - FACT_FUNCTIONS
    if unknown_functions:
        raise ContractError(f"{where}: unknown function(s) {sorted(unknown_functions)}")


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
    otherwise: Outcome | None = Field(default=None, description="when a guard fails (or errors)")


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

    @model_validator(mode="after")
    def _consistent(self) -> ContractDefinition:
        """Refuse at deployment what could only fail later: unknown states, names, functions."""
        states = set(self.states)

        def outcome(o: Outcome, where: str) -> None:
            if o.to not in states:
                raise ContractError(f"{where}: unknown state {o.to!r}")
            for name, expr in o.set.items():
                check_expression(expr, where=f"{where}.set.{name}")
            for i, emit in enumerate(o.emit):
                for name, expr in emit.data.items():
                    check_expression(expr, where=f"{where}.emit[{i}].{name}")

        check_expression(self.case_key, where="case_key")
        for t in self.transitions:
            for state in t.from_:
                if state != NEW and state not in states:
                    raise ContractError(f"transition {t.name}: unknown state {state!r}")
            if t.when is not None:
                check_expression(t.when, where=f"transition {t.name}.when")
            for g in t.guards:
                check_expression(g.expr, where=f"transition {t.name}.guard {g.name}")
            outcome(t.then, f"transition {t.name}.then")
            if t.otherwise is not None:
                outcome(t.otherwise, f"transition {t.name}.otherwise")
        for d in self.deadlines:
            if d.state not in states:
                raise ContractError(f"deadline: unknown state {d.state!r}")
            outcome(d.then, f"deadline on {d.state}")
        return self

    def triggers(self) -> set[str]:
        return {t.on for t in self.transitions}


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
    """What produced it (``transition:<name>`` or ``deadline:<state>``): part of the event id."""


@dataclass
class Step:
    """The result of one trigger or deadline on one case."""

    case: Case
    transition: str
    emissions: list[Emission]
    failed: str | None = None


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


def step(
    definition: ContractDefinition,
    case: Case | None,
    key: str,
    event: dict[str, Any],
    block: dict[str, Any],
    evaluate: Evaluator,
) -> Step | None:
    """Apply the first transition that matches ``event`` for this case; None if none does.

    A guard that is false, or that errors, takes the ``otherwise`` branch (reporting which
    guard failed and why); without one, the transition does not apply and the next is tried.
    """
    state = NEW if case is None else case.state
    current = case or Case(definition.contract_id, key, NEW, entered_at=block["time"])
    for transition in definition.transitions:
        if transition.on != event["type"] or state not in transition.from_:
            continue
        variables = {"event": event, "case": current.as_cel(), "block": block}
        if transition.when is not None:
            try:
                if evaluate(transition.when, variables) is not True:
                    continue
            except ContractError:
                continue
        failed = _first_failed_guard(transition, variables, evaluate)
        if failed is None:
            return _enter(current, transition.then, variables, evaluate, block, f"transition:{transition.name}",
                          transition.name, None)
        if transition.otherwise is not None:
            variables["case"] = {**current.as_cel(), "failed": failed}
            return _enter(current, transition.otherwise, variables, evaluate, block,
                          f"otherwise:{transition.name}", transition.name, failed)
    return None


def expire(definition: ContractDefinition, case: Case, block: dict[str, Any], evaluate: Evaluator) -> Step | None:
    """Fire the deadline of the case's state if block time has passed it."""
    for deadline in definition.deadlines:
        if deadline.state == case.state and _seconds_between(case.entered_at, block["time"]) >= deadline.after_seconds:
            variables = {"event": {}, "case": case.as_cel(), "block": block}
            return _enter(case, deadline.then, variables, evaluate, block, f"deadline:{deadline.state}",
                          f"deadline:{deadline.state}", None)
    return None


def _first_failed_guard(transition: Transition, variables: dict[str, Any], evaluate: Evaluator) -> str | None:
    for guard in transition.guards:
        try:
            if evaluate(guard.expr, variables) is not True:
                return guard.name
        except ContractError as exc:
            return f"{guard.name} (error: {exc})"
    return None


def _enter(
    case: Case, outcome: Outcome, variables: dict[str, Any], evaluate: Evaluator, block: dict[str, Any],
    cause: str, transition: str, failed: str | None,
) -> Step:
    new_vars = dict(case.vars)
    for name, expr in outcome.set.items():
        new_vars[name] = evaluate(expr, variables)
    moved = Case(case.contract_id, case.key, outcome.to, new_vars,
                 entered_at=block["time"] if outcome.to != case.state else case.entered_at)
    after = {**variables, "case": {**moved.as_cel(), **({"failed": failed} if failed else {})}}
    emissions = [
        Emission(emit.type, {name: _plain(evaluate(expr, after), name) for name, expr in emit.data.items()}, cause)
        for emit in outcome.emit
    ]
    return Step(moved, transition, emissions, failed)


def _plain(value: Any, name: str) -> Any:
    """Emitted data must be plain JSON (CEL can yield timestamps and the like)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ContractError(f"emitted field {name} is not plain JSON: {value!r}") from None
    return value


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


@EVENT_TYPES.register("contract.deployed", 1, changes_state=False)
class ContractDeployed(Spec):
    """A contract definition (or a new version of one) is deployed; checked in full at deployment."""

    definition: ContractDefinition


@EVENT_TYPES.register("clock.tick", 1)
class ClockTick(Spec):
    """The contract engine's heartbeat: a block whose time lets deadlines fire when nothing else happens."""

    note: str = Field(default="tick", max_length=40)
