"""The contract engine's API over NATS request/reply: a case with its history, the deployed contracts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from faststream.nats import NatsRouter
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from govchain.bus import subjects
from govchain.projection.runner import wait_for_height
from govchain.services.contract import tables as t


class CaseRequest(BaseModel):
    contract_id: str = Field(max_length=64)
    case_key: str = Field(max_length=128)
    min_height: int | None = None


def contract_router(engine: Engine, height: Any) -> NatsRouter:
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

    @router.subscriber(subjects.CONTRACT_CASE)
    async def case(request: CaseRequest) -> dict[str, Any]:
        if not await wait_for_height(height, request.min_height):
            return {"error": "the contract engine has not reached that height yet", "code": "not_ready"}
        return await asyncio.to_thread(read_case, request)

    @router.subscriber(subjects.CONTRACT_LIST)
    async def contracts() -> dict[str, Any]:
        return await asyncio.to_thread(read_contracts)

    return router
