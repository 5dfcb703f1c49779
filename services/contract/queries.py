"""The contract engine's API over NATS request/reply: a case with its history, the deployed contracts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from faststream.nats import NatsRouter
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.projection.runner import wait_for_height
from govchain.services.contract import tables as t


class CaseRequest(BaseModel):
    contract_id: str = Field(max_length=64)
    case_key: str = Field(max_length=128)
    min_height: int | None = None


# -- what waits on a department (the officials' workbench) ----------------------------------

MAX_AWAITING = 200
"""A queue answer holds at most this many cases, oldest first (a department works it down)."""


class AwaitingRequest(BaseModel):
    department: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    limit: int = Field(default=50, ge=1, le=MAX_AWAITING)
    min_height: int | None = None


def _deadline(entered_at: str, seconds: int | None) -> str | None:
    """When a case falls due: its state's deadline counted from the block time it entered it."""
    from datetime import datetime, timedelta

    if seconds is None:
        return None
    try:
        due = datetime.fromisoformat(entered_at.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    except ValueError:
        return None
    return due.isoformat().replace("+00:00", "Z")


def read_awaiting(engine: Engine, request: AwaitingRequest) -> dict[str, Any]:
    """The open cases whose ``approvers`` name ``department`` and whose ``approvals`` do not yet:
    a land transfer or a data-sharing request waiting on that department's decision, with the
    case's variables, when it falls due, the event that opened it and the transitions that
    may leave its state (the events that decide it). Any contract that keeps its approvers so
    (``vars.approvers``, ``vars.approvals``) is covered, none is named here."""
    from govchain.services.contract.projection import all_definitions

    department = request.department
    with engine.connect() as conn:
        definitions = {(d.contract_id, d.version): d for d in all_definitions(conn)}
        open_states = {(key, s) for key, d in definitions.items() for tr in d.transitions for s in tr.from_}
        states = sorted({state for _, state in open_states})
        rows = conn.execute(
            select(t.cases)
            .where(t.cases.c.state.in_(states), t.cases.c.vars.contains(json.dumps(department), autoescape=True))
            .order_by(t.cases.c.entered_at, t.cases.c.contract_id, t.cases.c.case_key)
        ).all()
        cases: list[dict[str, Any]] = []
        for row in rows:
            key = (row.contract_id, row.version)
            variables = json.loads(row.vars)
            approvers, approvals = variables.get("approvers"), variables.get("approvals")
            if (
                (key, row.state) not in open_states
                or not isinstance(approvers, list)
                or not isinstance(approvals, list)
            ):
                continue
            if department not in approvers or department in approvals:
                continue
            opened = conn.execute(
                select(t.history.c.trigger_event_id, t.history.c.height)
                .where(t.history.c.contract_id == row.contract_id, t.history.c.case_key == row.case_key)
                .order_by(t.history.c.id)
                .limit(1)
            ).first()
            definition = definitions[key]
            seconds = next((d.after_seconds for d in definition.deadlines if d.state == row.state), None)
            cases.append(
                {
                    "contract_id": row.contract_id,
                    "case_key": row.case_key,
                    "version": row.version,
                    "title": definition.title,
                    "state": row.state,
                    "vars": variables,
                    "entered_at": row.entered_at,
                    "deadline": _deadline(row.entered_at, seconds),
                    "transitions": [
                        {"name": tr.name, "on": tr.on} for tr in definition.transitions if row.state in tr.from_
                    ],
                    "opened_by": None if opened is None else opened.trigger_event_id,
                    "opened_height": None if opened is None else opened.height,
                    "updated_height": row.updated_height,
                }
            )
            if len(cases) > request.limit:  # one more than asked for: there is more to work
                break
    return {"department": department, "cases": cases[: request.limit], "truncated": len(cases) > request.limit}


# -- a person's own cases (the portal's "my services") -------------------------------------

MAX_CASES_OF = 100
"""A principal's cases in one answer, newest first."""


class CasesOfRequest(BaseModel):
    principal: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    limit: int = Field(default=50, ge=1, le=MAX_CASES_OF)
    min_height: int | None = None


def _names(value: Any, principal: str) -> bool:
    """Whether a case variable is ``principal`` or a list holding it (an applicant, an owner)."""
    return value == principal or (isinstance(value, list) and principal in value)


def read_cases_of(engine: Engine, request: CasesOfRequest) -> dict[str, Any]:
    """The cases a principal is a party to: those an event they signed moved (a licence
    application: its case keeps no variables, its trigger is the applicant's own
    ``license.applied``), and those whose top-level variables name them (the owners of a land
    transfer). A substring match alone could hit another id that contains this one, so each
    candidate is checked exactly."""
    from govchain.services.contract.projection import all_definitions

    principal = request.principal
    with engine.connect() as conn:
        titles = {(d.contract_id, d.version): d.title for d in all_definitions(conn)}
        signed = {
            (r.contract_id, r.case_key)
            for r in conn.execute(
                select(t.history.c.contract_id, t.history.c.case_key).where(
                    t.history.c.trigger_event_id.startswith(f"{principal}/", autoescape=True)
                )
            )
        }
        named = conn.execute(
            select(t.cases.c.contract_id, t.cases.c.case_key).where(
                t.cases.c.vars.contains(json.dumps(principal), autoescape=True)
            )
        ).all()
        keys = signed | {(r.contract_id, r.case_key) for r in named}
        rows = [
            row
            for row in conn.execute(
                select(t.cases)
                .where(t.cases.c.case_key.in_(sorted({key for _, key in keys})))
                .order_by(t.cases.c.updated_height.desc(), t.cases.c.contract_id, t.cases.c.case_key)
            )
            if (row.contract_id, row.case_key) in keys
        ]
        cases: list[dict[str, Any]] = []
        for row in rows:
            variables = json.loads(row.vars)
            party = (row.contract_id, row.case_key) in signed or (
                isinstance(variables, dict) and any(_names(v, principal) for v in variables.values())
            )
            if not party:
                continue
            results = conn.execute(
                select(t.outbox.c.event_id, t.outbox.c.type).where(
                    t.outbox.c.contract_id == row.contract_id, t.outbox.c.case_key == row.case_key
                )
            ).all()
            cases.append(
                {
                    "contract_id": row.contract_id,
                    "case_key": row.case_key,
                    "version": row.version,
                    "title": titles.get((row.contract_id, row.version)),
                    "state": row.state,
                    "vars": variables,
                    "entered_at": row.entered_at,
                    "updated_height": row.updated_height,
                    "results": [{"event_id": r.event_id, "type": r.type} for r in results],
                }
            )
            if len(cases) >= request.limit:
                break
    return {"principal": principal, "cases": cases, "truncated": len(cases) >= request.limit}


def contract_router(engine: Engine, height: Any, names: ChainNames = DEFAULT) -> NatsRouter:
    router = NatsRouter()

    def read_case(request: CaseRequest) -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(
                select(t.cases).where(
                    t.cases.c.contract_id == request.contract_id, t.cases.c.case_key == request.case_key
                )
            ).one_or_none()
            if row is None:
                return {"error": f"no case {request.case_key} of {request.contract_id}", "code": "not_found"}
            steps = conn.execute(
                select(t.history)
                .where(
                    t.history.c.contract_id == request.contract_id,
                    t.history.c.case_key == request.case_key,
                )
                .order_by(t.history.c.id)
            ).all()
            results = conn.execute(
                select(t.outbox.c.event_id, t.outbox.c.type).where(
                    t.outbox.c.contract_id == request.contract_id, t.outbox.c.case_key == request.case_key
                )
            ).all()
        return {
            "contract_id": row.contract_id,
            "case_key": row.case_key,
            "version": row.version,
            "state": row.state,
            "vars": json.loads(row.vars),
            "entered_at": row.entered_at,
            "updated_height": row.updated_height,
            "history": [
                {
                    "height": s.height,
                    "step": s.step,
                    "state": s.state,
                    "failed": s.failed,
                    "trigger_event_id": s.trigger_event_id,
                }
                for s in steps
            ],
            "results": [{"event_id": r.event_id, "type": r.type} for r in results],
        }

    def read_contracts() -> dict[str, Any]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.definitions).order_by(t.definitions.c.contract_id, t.definitions.c.version)
            ).all()
        return {
            "contracts": [
                {
                    "contract_id": r.contract_id,
                    "version": r.version,
                    "deployed_height": r.deployed_height,
                    "definition": json.loads(r.definition),
                }
                for r in rows
            ]
        }

    @router.subscriber(names.contract_case)
    async def case(request: CaseRequest) -> dict[str, Any]:
        if not await wait_for_height(height, request.min_height):
            return {"error": "the contract engine has not reached that height yet", "code": "not_ready"}
        return await asyncio.to_thread(read_case, request)

    @router.subscriber(names.contract_list)
    async def contracts() -> dict[str, Any]:
        return await asyncio.to_thread(read_contracts)

    @router.subscriber(names.contract_awaiting)
    async def awaiting(request: AwaitingRequest) -> dict[str, Any]:
        if not await wait_for_height(height, request.min_height):
            return {"error": "the contract engine has not reached that height yet", "code": "not_ready"}
        return await asyncio.to_thread(read_awaiting, engine, request)

    @router.subscriber(names.contract_cases_of)
    async def cases_of(request: CasesOfRequest) -> dict[str, Any]:
        if not await wait_for_height(height, request.min_height):
            return {"error": "the contract engine has not reached that height yet", "code": "not_ready"}
        return await asyncio.to_thread(read_cases_of, engine, request)

    return router
