"""The contract engine's projection: deployed contracts, their cases, and an outbox of results.

For each block it first brings its copy of the registry up to date (the facts guards read),
then fires the deadlines that are due as of the block's time, and only then runs every
deployed contract over the block's events: an approval in a block whose time is past the
deadline finds the case already expired. (A case that enters a state in this block has
``entered_at`` = this block's time, so no deadline can fall due later in the same block.)
Results go to an outbox in the same transaction as the case state: they are published
afterwards, and, having deterministic ids and contents, publishing one twice (after a
crash) is harmless: the ledger orders it once.

An expression that fails at run time never stops the engine: :func:`step` and :func:`expire`
reject the case (its ``on_error`` outcome, or the FAILED state) with the error on record.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, select, update

from govchain.logs import get_logger
from govchain.protocol.contracts import (
    NEW,
    Case,
    ContractDefinition,
    ContractDeployed,
    Emission,
    Evaluator,
    Step,
    case_key,
    expire,
    step,
)
from govchain.protocol.envelope import Envelope
from govchain.protocol.errors import ContractError
from govchain.protocol.verify import VerifiedBlock
from govchain.services.contract import tables as t
from govchain.services.contract.facts import SqlFacts
from govchain.services.registry.projection import RegistryProjection
from govchain.storage.migrations import upgrade_to_head

log = get_logger("govchain.contract")

UNKEYED = "(unkeyed)"
"""The history key of an event whose case key could not be evaluated."""

MIGRATIONS = Path(__file__).with_name("migrations")


def result_id(contract_id: str, key: str, cause: str, trigger: str, index: int) -> str:
    """A result's event id, derived from what caused it: re-execution yields the same id."""
    return hashlib.sha256(f"{contract_id}\x00{key}\x00{cause}\x00{trigger}\x00{index}".encode()).hexdigest()[:32]


class ContractEngineProjection:
    name = "contract-engine"

    def __init__(self) -> None:
        self.registry = RegistryProjection()

    def prepare(self, engine: Engine) -> None:
        self.registry.prepare(engine)
        upgrade_to_head(engine, MIGRATIONS)

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        self.registry.apply(conn, block)
        evaluate = Evaluator(SqlFacts(conn, block.state))
        header = block.block.header
        at = {"height": header.height, "time": header.time}
        self._deadlines(conn, at, evaluate)  # due as of this block's time: before its events
        latest = _latest_definitions(conn)
        for envelope in block.envelopes:
            if envelope.type == "contract.deployed":
                self._deploy(conn, envelope, header.height)
                latest = _latest_definitions(conn)
                continue
            for definition in latest.values():
                if envelope.type in definition.triggers():
                    self._trigger(conn, definition, envelope, at, evaluate)

    def _deploy(self, conn: Connection, envelope: Envelope, height: int) -> None:
        try:
            definition = ContractDeployed.model_validate(envelope.data).definition
        except ValidationError as exc:  # the ledger checked it; only a change of the rules gets here
            log.error(
                "deployed contract no longer passes its checks; not deployed",
                event_id=envelope.id,
                error=str(exc).splitlines()[:3],
            )
            return
        known = conn.execute(
            select(t.definitions.c.version).where(
                t.definitions.c.contract_id == definition.contract_id,
                t.definitions.c.version == definition.version,
            )
        ).first()
        if known is not None:  # the ledger refuses a redeployment; only a chain ordered before that rule has one
            log.warning(
                "contract version already deployed; ignored",
                contract=definition.contract_id,
                version=definition.version,
                event_id=envelope.id,
            )
            return
        conn.execute(
            insert(t.definitions).values(
                contract_id=definition.contract_id,
                version=definition.version,
                definition=definition.model_dump_json(by_alias=True),
                deployed_height=height,
                event_id=envelope.id,
            )
        )

    def _trigger(
        self, conn: Connection, latest: ContractDefinition, envelope: Envelope, at: dict[str, Any], evaluate: Evaluator
    ) -> None:
        event = {
            "id": envelope.id,
            "type": envelope.type,
            "source": envelope.source,
            "time": envelope.time,
            "data": envelope.data,
        }
        try:
            key = case_key(latest, event, evaluate)
        except ContractError as exc:
            # No case to reject: the error is on record under UNKEYED, the event is otherwise ignored.
            log.warning(
                "event names no case of the contract", contract=latest.contract_id, event_id=envelope.id, error=str(exc)
            )
            _history(conn, latest, UNKEYED, at, "error:case_key", NEW, str(exc)[:500], envelope.ref)
            return
        case, definition = _load_case(conn, latest, key)
        result = step(definition, case, key, event, at, evaluate)  # never raises: errors reject the case
        if result is not None:
            # The trigger is named source/id: ids are unique per source only, and a result's
            # id derives from its trigger, so two sources' equal ids must not meet here.
            self._record(conn, definition, result, at, envelope.ref, is_new=case is None)

    def _deadlines(self, conn: Connection, at: dict[str, Any], evaluate: Evaluator) -> None:
        for definition in all_definitions(conn):
            states = [d.state for d in definition.deadlines]
            if not states:
                continue
            rows = conn.execute(
                select(t.cases)
                .where(
                    t.cases.c.contract_id == definition.contract_id,
                    t.cases.c.version == definition.version,
                    t.cases.c.state.in_(states),
                )
                .order_by(t.cases.c.case_key)
            ).all()
            for row in rows:
                result = expire(definition, _case(row), at, evaluate)
                if result is not None:
                    self._record(conn, definition, result, at, f"h{at['height']}", is_new=False)

    def _record(
        self,
        conn: Connection,
        definition: ContractDefinition,
        result: Step,
        at: dict[str, Any],
        trigger: str,
        *,
        is_new: bool,
    ) -> None:
        case = result.case
        values = dict(
            version=definition.version,
            state=case.state,
            vars=json.dumps(case.vars),
            entered_at=case.entered_at,
            updated_height=at["height"],
        )
        if is_new:
            conn.execute(insert(t.cases).values(contract_id=case.contract_id, case_key=case.key, **values))
        else:
            conn.execute(
                update(t.cases)
                .where(t.cases.c.contract_id == case.contract_id, t.cases.c.case_key == case.key)
                .values(**values)
            )
        _history(
            conn,
            definition,
            case.key,
            at,
            result.transition,
            case.state,
            result.failed,
            None if trigger.startswith("h") else trigger,
        )
        for index, emission in enumerate(result.emissions):
            _queue(conn, definition, case.key, emission, at, trigger, index)


def _queue(
    conn: Connection,
    definition: ContractDefinition,
    key: str,
    emission: Emission,
    at: dict[str, Any],
    trigger: str,
    index: int,
) -> None:
    event_id = result_id(definition.contract_id, key, emission.cause, trigger, index)
    conn.execute(
        insert(t.outbox).values(
            event_id=event_id,
            type=emission.type,
            data=json.dumps(emission.data),
            time=at["time"],
            contract_id=definition.contract_id,
            case_key=key,
            height=at["height"],
            published=0,
        )
    )


def _history(
    conn: Connection,
    definition: ContractDefinition,
    key: str,
    at: dict[str, Any],
    step_name: str,
    state: str,
    failed: str | None,
    trigger: str | None,
) -> None:
    conn.execute(
        insert(t.history).values(
            contract_id=definition.contract_id,
            case_key=key,
            height=at["height"],
            step=step_name,
            state=state,
            failed=failed,
            trigger_event_id=trigger,
        )
    )


_PARSED: dict[str, ContractDefinition] = {}


def parse_definition(text: str) -> ContractDefinition:
    """A stored definition, type-checked once per process (checking every block would be slow)."""
    definition = _PARSED.get(text)
    if definition is None:
        definition = _PARSED[text] = ContractDefinition.model_validate_json(text)
    return definition


def all_definitions(conn: Connection) -> list[ContractDefinition]:
    rows = conn.execute(
        select(t.definitions.c.definition).order_by(t.definitions.c.contract_id, t.definitions.c.version)
    )
    return [parse_definition(row.definition) for row in rows]


def _latest_definitions(conn: Connection) -> dict[str, ContractDefinition]:
    """The newest version of each contract: new cases start under it."""
    return {d.contract_id: d for d in all_definitions(conn)}


def _load_case(conn: Connection, latest: ContractDefinition, key: str) -> tuple[Case | None, ContractDefinition]:
    """The case and the definition it runs under (a case keeps the version it started with)."""
    row = conn.execute(
        select(t.cases).where(t.cases.c.contract_id == latest.contract_id, t.cases.c.case_key == key)
    ).one_or_none()
    if row is None:
        return None, latest
    if row.version == latest.version:
        return _case(row), latest
    stored = conn.execute(
        select(t.definitions.c.definition).where(
            t.definitions.c.contract_id == latest.contract_id, t.definitions.c.version == row.version
        )
    ).scalar_one()
    return _case(row), parse_definition(stored)


def _case(row: Any) -> Case:
    return Case(row.contract_id, row.case_key, row.state, json.loads(row.vars), row.entered_at)
