"""The contract engine over real, verified blocks (no NATS): deadlines are due by block time
before a block's events apply, and an expression that fails at run time rejects its case
instead of crashing the projection or being skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from govchain.protocol.block import seal_block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.contracts import FAILED
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.merkle import leaf_hash
from govchain.protocol.verify import ChainVerifier
from govchain.services.contract import BUILTIN_CONTRACTS
from govchain.services.contract import tables as t
from govchain.services.contract.projection import ContractEngineProjection
from govchain.storage.engine import make_engine

from .conftest import ChainBuilder

OWNER, BUYER = "c-" + "0a" * 16, "c-" + "0b" * 16
T0 = datetime(2026, 3, 1, 9, 0, 0)


def stamp(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Chain(ChainBuilder):
    """The unit-test chain builder, with a block time per block, feeding a contract engine."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.verifier = ChainVerifier(check_events=True)
        self.projection = ContractEngineProjection()
        self.projection.prepare(engine)
        self.engine = engine
        self.verifier.verify(self.blocks[0])

    def block(self, events: list[Envelope], at: float) -> None:
        dicts = [e.to_dict() for e in events]
        leaves = [leaf_hash(canonical_bytes(d)) for d in dicts]
        for leaf in leaves:
            self.log.append(leaf)
        block = seal_block(
            chain_id=self.chain_id,
            height=len(self.blocks),
            prev_hash=self.blocks[-1].hash,
            events=dicts,
            leaf_hashes=leaves,
            log_after=self.log,
            time=stamp(at),
            orderer_key=self.orderer,
        )
        self.blocks.append(block)
        verified = self.verifier.verify(block)
        with self.engine.begin() as conn:
            self.projection.apply(conn, verified)

    def by(self, dept: str, type: str, data: dict[str, Any], at: float) -> Envelope:
        key = self.root if dept == "root" else self.dept_keys[dept]
        return make_event(key, source=dept, type=type, data=data, time=stamp(at))

    def case(self, contract_id: str, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.cases).where(t.cases.c.contract_id == contract_id, t.cases.c.case_key == key)
            ).one()

    def results(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.outbox).where(t.outbox.c.case_key == key).order_by(t.outbox.c.height))
            return [(r.type, json.loads(r.data)) for r in rows]

    def history(self, contract_id: str, key: str) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.history)
                .where(t.history.c.contract_id == contract_id, t.history.c.case_key == key)
                .order_by(t.history.c.id)
            ).all()


def land_transfer(after_seconds: int = 60) -> dict[str, Any]:
    definition = json.loads(BUILTIN_CONTRACTS["land-transfer"].read_text())
    definition["deadlines"][0]["after_seconds"] = after_seconds
    return definition


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    engine = make_engine(f"sqlite:///{tmp_path / 'contract.db'}")
    chain = Chain(engine)
    chain.block([chain.register(d, time=stamp(-100)) for d in ("market", "land", "tax", "housing")], at=-100)
    chain.block(
        [
            chain.by(
                "land",
                "land.parcel_registered",
                {"parcel_id": "P-1", "location": "Lot 1", "area_m2": "100", "land_use": "residential", "owner": OWNER},
                at=-50,
            )
        ],
        at=-50,
    )
    yield chain
    engine.dispose()


def deploy(chain: Chain, definition: dict[str, Any], at: float) -> None:
    chain.block([chain.by("root", "contract.deployed", {"definition": definition}, at)], at)


def request(chain: Chain, request_id: str, at: float) -> None:
    chain.block(
        [
            chain.by(
                "land",
                "land.transfer_requested",
                {
                    "request_id": request_id,
                    "parcel_id": "P-1",
                    "from_owner": OWNER,
                    "to_owner": BUYER,
                    "consideration": "1.00",
                    "approvers": ["tax", "housing"],
                    "required": 2,
                },
                at,
            )
        ],
        at,
    )


def approve(chain: Chain, dept: str, request_id: str, at: float) -> None:
    chain.block([chain.by(dept, "land.transfer_approved", {"request_id": request_id}, at)], at)


def test_an_approval_after_the_deadline_finds_the_case_expired(chain: Chain) -> None:
    deploy(chain, land_transfer(after_seconds=60), at=-10)
    request(chain, "R-1", at=0)
    approve(chain, "tax", "R-1", at=10)
    approve(chain, "housing", "R-1", at=61)  # the first block past the deadline: no tick came before it
    case = chain.case("land-transfer", "R-1")
    assert case.state == "expired"
    assert [type for type, _ in chain.results("R-1")] == ["land.transfer_expired"]
    assert chain.results("R-1")[0][1] == {"request_id": "R-1", "approvals": ["tax"]}


def test_an_approval_in_time_records_the_transfer(chain: Chain) -> None:
    deploy(chain, land_transfer(after_seconds=60), at=-10)
    request(chain, "R-2", at=0)
    approve(chain, "tax", "R-2", at=10)
    approve(chain, "housing", "R-2", at=59)
    assert chain.case("land-transfer", "R-2").state == "recorded"
    assert [type for type, _ in chain.results("R-2")] == ["land.transferred"]


def failing_deadline(on_error: bool) -> dict[str, Any]:
    """Well typed, but its deadline's emit divides by zero when it fires."""
    definition = land_transfer(after_seconds=60)
    definition["contract_id"] = "fragile-transfer"
    definition["deadlines"][0]["then"]["emit"][0]["data"]["approvals"] = (
        "[string(1 / (size(case.approvals) - size(case.approvals)))]"
    )
    if not on_error:
        del definition["on_error"]
    return definition


@pytest.mark.parametrize("on_error", [True, False])
def test_a_deadline_whose_outcome_errors_rejects_the_case_and_the_engine_goes_on(chain: Chain, on_error: bool) -> None:
    deploy(chain, failing_deadline(on_error), at=-10)
    request(chain, "R-3", at=0)
    approve(chain, "tax", "R-3", at=70)  # the deadline fires first, and its emit fails
    case = chain.case("fragile-transfer", "R-3")
    steps = chain.history("fragile-transfer", "R-3")
    assert steps[-1].step == "error:deadline:pending" and "deadline:pending (error:" in steps[-1].failed
    if on_error:  # the failed emit produced nothing; the refusal is on record instead
        assert case.state == "refused" and "deadline:pending (error:" in json.loads(case.vars)["refused_because"]
        [(type, data)] = chain.results("R-3")
        assert (type, data["request_id"], data["parcel_id"]) == ("land.transfer_refused", "R-3", "P-1")
        assert data["reason"].startswith("deadline:pending (error:")
    else:
        assert case.state == FAILED
        assert chain.results("R-3") == []  # the failed emit produced nothing
    approve(chain, "housing", "R-3", at=80)  # later blocks still apply, and the case stays rejected
    assert chain.case("fragile-transfer", "R-3").state == case.state


def licence(**change: Any) -> dict[str, Any]:
    definition = json.loads(BUILTIN_CONTRACTS["business-license"].read_text())
    definition.update(change)
    return definition


def test_a_guard_that_errors_without_otherwise_rejects_the_case(chain: Chain) -> None:
    definition = licence(contract_id="fragile-license")
    transition = definition["transitions"][0]
    transition["guards"] = [{"name": "divides", "expr": "size(event.data.documents) / 0 > 1"}]
    del transition["otherwise"]
    deploy(chain, definition, at=-10)
    applied = chain.by(
        "market",
        "license.applied",
        {"application_id": "A-1", "applicant": OWNER, "business_id": "B-1", "kind": "food", "documents": ["1" * 64]},
        at=0,
    )
    chain.verifier.check_events = False  # only a citizen may apply; the engine does not care who signed
    chain.block([applied], at=0)
    case = chain.case("fragile-license", "A-1")
    assert case.state == "rejected"  # the contract's on_error outcome
    [(type, data)] = chain.results("A-1")
    assert type == "license.application_rejected"
    assert data["application_id"] == "A-1" and data["failed_condition"].startswith("divides (error:")


def test_a_when_that_errors_rejects_the_case(chain: Chain) -> None:
    definition = land_transfer()
    definition["contract_id"] = "fragile-when"
    definition["transitions"][2]["when"] = "1 / (size(case.approvals) - size(case.approvals)) == 1"
    definition["transitions"][1]["when"] = "false"
    deploy(chain, definition, at=-10)
    request(chain, "R-4", at=0)
    approve(chain, "tax", "R-4", at=5)
    case = chain.case("fragile-when", "R-4")
    assert case.state == "refused"
    assert json.loads(case.vars)["refused_because"].startswith("when (error:")
    assert chain.history("fragile-when", "R-4")[-1].step == "error:approve"


def refusals(chain: Chain, key: str) -> list[dict[str, Any]]:
    results = chain.results(key)
    assert [type for type, _ in results] == ["land.transfer_refused"], results
    return [data for _, data in results]


def test_a_request_from_someone_not_owning_the_parcel_is_refused_on_record(chain: Chain) -> None:
    deploy(chain, land_transfer(), at=-10)
    chain.block(
        [
            chain.by(
                "land",
                "land.transfer_requested",
                {
                    "request_id": "R-5",
                    "parcel_id": "P-1",
                    "from_owner": BUYER,
                    "to_owner": OWNER,
                    "consideration": "1.00",
                    "approvers": ["tax", "housing"],
                    "required": 2,
                },
                at=0,
            )
        ],
        at=0,
    )
    assert chain.case("land-transfer", "R-5").state == "refused"
    assert refusals(chain, "R-5") == [{"request_id": "R-5", "parcel_id": "P-1", "reason": "seller_owns_parcel"}]


def test_a_transfer_whose_seller_sold_the_parcel_meanwhile_is_refused_on_record(chain: Chain) -> None:
    deploy(chain, land_transfer(), at=-10)
    request(chain, "R-6", at=0)
    approve(chain, "tax", "R-6", at=5)
    chain.block(
        [
            chain.by(
                "land",
                "land.transferred",
                {
                    "transfer_id": "T-X",
                    "parcel_id": "P-1",
                    "from_owner": OWNER,
                    "to_owner": "c-" + "0c" * 16,
                    "consideration": "2.00",
                },
                at=6,
            )
        ],
        at=6,
    )
    approve(chain, "housing", "R-6", at=7)
    assert chain.case("land-transfer", "R-6").state == "refused"
    assert refusals(chain, "R-6") == [{"request_id": "R-6", "parcel_id": "P-1", "reason": "seller_still_owns_parcel"}]


def test_a_request_whose_guard_errors_is_refused_on_record_with_the_error(chain: Chain) -> None:
    """on_error before the case has variables: the parcel comes from the triggering event."""
    definition = land_transfer()
    definition["contract_id"] = "fragile-request"
    request_transition = definition["transitions"][0]
    request_transition["guards"] = [{"name": "divides", "expr": "1 / (event.data.required - 2) > 0"}]
    del request_transition["otherwise"]
    deploy(chain, definition, at=-10)
    request(chain, "R-7", at=0)
    assert chain.case("fragile-request", "R-7").state == "refused"
    [data] = refusals(chain, "R-7")
    assert (data["request_id"], data["parcel_id"]) == ("R-7", "P-1") and data["reason"].startswith("divides (error:")


def test_analytics_counts_a_refusal_as_a_rejected_land_transfer() -> None:
    from govchain.services.analytics.cases import SERVICE_TYPES

    [(service, decision)] = SERVICE_TYPES.decided_by("land.transfer_refused")
    assert (service.name, service.key_field, decision.outcome, decision.reason_field) == (
        "land-transfer",
        "request_id",
        "rejected",
        "reason",
    )
