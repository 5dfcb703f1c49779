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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import cel
from pydantic import BaseModel, ConfigDict, Field, model_validator

from govchain.protocol.celtypes import (
    BOOL,
    DYN,
    INT,
    STRING,
    CelType,
    assignable,
    infer_type,
    join,
    map_of,
    model_type,
    object_of,
    type_of_annotation,
)
from govchain.protocol.envelope import PRINCIPAL_PATTERN, TYPE_PATTERN
from govchain.protocol.errors import ContractError
from govchain.protocol.registry import EVENT_TYPES

NEW = "(new)"
"""The pseudo-state of a case that does not exist yet: a transition from it opens the case."""

FAILED = "(failed)"
"""The state a case enters when an expression fails at run time and the contract has no
``on_error`` outcome (or that outcome fails too): terminal, with the error in ``failed``."""
RESERVED_CASE_FIELDS = frozenset({"key", "state", "entered_at", "failed"})


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
            key = infer_type(
                d.case_key,
                {
                    "event": _event_var(on),
                    "case": object_of("case (none yet)", {}),
                    "block": object_of("block (not bound in case_key)", {}),
                },
                where=f"case_key (on {on})",
            )
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

    def _case(self, *, opened: bool = True, failed: bool = False, extra: dict[str, CelType] | None = None) -> CelType:
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
        after = {
            **env,
            "case": self._case(opened=opened, failed=failed, extra={n: self.vars.get(n, DYN) for n in outcome.set}),
        }
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
            return _enter_or_reject(
                definition,
                current,
                transition.then,
                variables,
                evaluate,
                block,
                f"transition:{transition.name}",
                transition.name,
                None,
            )
        if transition.otherwise is not None:
            variables["case"] = {**current.as_cel(), "failed": failed}
            return _enter_or_reject(
                definition,
                current,
                transition.otherwise,
                variables,
                evaluate,
                block,
                f"otherwise:{transition.name}",
                transition.name,
                failed,
            )
        if error:
            return reject(definition, current, variables, block, transition.name, failed, evaluate)
    return None


def expire(definition: ContractDefinition, case: Case, block: dict[str, Any], evaluate: Evaluator) -> Step | None:
    """Fire the deadline of the case's state if block time has passed it. Never raises."""
    for deadline in definition.deadlines:
        if deadline.state == case.state and _seconds_between(case.entered_at, block["time"]) >= deadline.after_seconds:
            variables = {"event": {}, "case": case.as_cel(), "block": block}
            return _enter_or_reject(
                definition,
                case,
                deadline.then,
                variables,
                evaluate,
                block,
                f"deadline:{deadline.state}",
                f"deadline:{deadline.state}",
                None,
            )
    return None


def reject(
    definition: ContractDefinition,
    case: Case,
    variables: dict[str, Any],
    block: dict[str, Any],
    step_name: str,
    reason: str,
    evaluate: Evaluator | None = None,
) -> Step:
    """An expression failed at run time: the case takes the contract's ``on_error`` outcome
    (with ``case.failed`` = the error), or, without one or if that fails too, ends in FAILED."""
    reason = _short(reason)
    if definition.on_error is not None and evaluate is not None:
        on_error = {**variables, "case": {**case.as_cel(), "failed": reason}}
        try:
            result = _enter(
                case, definition.on_error, on_error, evaluate, block, f"error:{step_name}", f"error:{step_name}", reason
            )
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
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def _enter_or_reject(
    definition: ContractDefinition,
    case: Case,
    outcome: Outcome,
    variables: dict[str, Any],
    evaluate: Evaluator,
    block: dict[str, Any],
    cause: str,
    step_name: str,
    failed: str | None,
) -> Step:
    try:
        return _enter(case, outcome, variables, evaluate, block, cause, step_name, failed)
    except ContractError as exc:
        return reject(definition, case, variables, block, step_name, f"{cause} (error: {exc})", evaluate)


def _enter(
    case: Case,
    outcome: Outcome,
    variables: dict[str, Any],
    evaluate: Evaluator,
    block: dict[str, Any],
    cause: str,
    transition: str,
    failed: str | None,
) -> Step:
    new_vars = dict(case.vars)
    for name, expr in outcome.set.items():
        new_vars[name] = _plain(evaluate(expr, variables), f"set.{name}")
    moved = Case(
        case.contract_id,
        case.key,
        outcome.to,
        new_vars,
        entered_at=block["time"] if outcome.to != case.state else case.entered_at,
    )
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
