"""The analytics projection on SQLite: cases opened and decided by the catalogue, timed in block time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, update

from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.services.analytics import tables as t
from govchain.services.analytics.cases import Catalogue, Decision, ServiceType
from govchain.services.analytics.metrics import AnalyticsConfig, summarize
from govchain.services.analytics.projection import AnalyticsProjection, hour_of
from govchain.services.analytics.store import read_snapshot
from govchain.storage.engine import make_engine

KEY = SigningKey.generate()
CITIZEN = "c-" + "0a" * 16
EVENT_CLOCK = "2030-01-01T00:00:00.000000Z"  # publishers' clocks are not what we measure


def event(source: str, type: str, **data: Any) -> Envelope:
    return make_event(KEY, source=source, type=type, data=data, time=EVENT_CLOCK)


def block(height: int, time: str, *events: Envelope) -> Any:
    """What the projection reads of a VerifiedBlock: the header's height and time, the envelopes."""
    header = SimpleNamespace(height=height, time=time)
    return SimpleNamespace(block=SimpleNamespace(header=header), envelopes=list(events))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'analytics.db'}")
    yield engine
    engine.dispose()


def apply(engine: Engine, projection: AnalyticsProjection, *blocks: Any) -> None:
    for b in blocks:
        with engine.begin() as conn:
            projection.apply(conn, b)


def applied(application_id: str, business_id: str = "B-1") -> Envelope:
    return event(
        CITIZEN,
        "license.applied",
        application_id=application_id,
        applicant=CITIZEN,
        business_id=business_id,
        kind="food",
        documents=["1" * 64],
    )


def test_cases_are_timed_from_opening_block_to_deciding_block(engine: Engine) -> None:
    projection = AnalyticsProjection()
    projection.prepare(engine)
    apply(
        engine,
        projection,
        block(
            1,
            "2026-03-02T09:10:00.000000Z",
            event(
                "market",
                "business.registered",
                business_id="B-1",
                name="N",
                registration_no="1",
                address="A",
                activity="x",
                owner=CITIZEN,
            ),
            event(
                "commerce",
                "business.registered",
                business_id="B-1",
                name="N",
                registration_no="1",
                address="A",
                activity="x",
                owner=CITIZEN,
            ),
        ),  # void in the registry: the first one stands
        block(
            2,
            "2026-03-02T10:00:00.000000Z",
            applied("A-1"),
            applied("A-2", business_id="B-404"),
            applied("A-1"),  # re-opening is ignored
            event(
                "land",
                "land.transfer_requested",
                request_id="R-1",
                parcel_id="P-1",
                from_owner=CITIZEN,
                to_owner="c-" + "0b" * 16,
                consideration="1.00",
                approvers=["tax"],
                required=1,
            ),
        ),
        block(
            3,
            "2026-03-02T12:30:00.000000Z",
            event(
                "contract-engine",
                "license.issued",
                license_id="L-A-1",
                business_id="B-1",
                kind="food",
                valid_from="2026-03-02",
                valid_until="2027-03-02",
                application_id="A-1",
            ),
            event(
                "market",
                "license.issued",
                license_id="L-9",
                business_id="B-1",
                kind="food",
                valid_from="2026-03-02",
                valid_until="2027-03-02",
            ),  # no application: not a case
            event(
                "contract-engine",
                "license.application_rejected",
                application_id="A-2",
                failed_condition="applicant_owns_business",
            ),
            event(
                "contract-engine",
                "land.transferred",
                transfer_id="T-9",
                parcel_id="P-1",
                from_owner=CITIZEN,
                to_owner="c-" + "0b" * 16,
                consideration="1.00",
                request_id="R-9",
            ),
        ),  # unknown case
        block(
            4,
            "2026-03-02T13:00:00.000000Z",
            event("contract-engine", "license.application_rejected", application_id="A-1", failed_condition="late"),
        ),  # already decided: the first decision stands
    )
    data = read_snapshot(engine)
    assert data.as_of_height == 4 and data.as_of_time is not None and data.as_of_time.hour == 13
    cases = {(c.service_type, c.case_id): c for c in data.cases}
    assert set(cases) == {("business-license", "A-1"), ("business-license", "A-2"), ("land-transfer", "R-1")}
    a1, a2, r1 = cases[("business-license", "A-1")], cases[("business-license", "A-2")], cases[("land-transfer", "R-1")]
    assert (a1.department, a1.outcome, a1.reason, a1.processing_s) == ("market", "approved", None, 2.5 * 3600)
    assert (a2.department, a2.outcome, a2.reason) == (None, "rejected", "applicant_owns_business")
    assert a2.processing_s == 2.5 * 3600
    assert (r1.department, r1.outcome, r1.processing_s) == ("land", None, None)

    summary = summarize(data, AnalyticsConfig())
    assert [(s.count, s.decided, s.open) for s in summary.service_types] == [(2, 2, 0), (1, 0, 1)]
    assert summary.throughput.total_events == 11  # every event counts, case or not
    assert summary.throughput.by_source == {"contract-engine": 4, CITIZEN: 3, "market": 2, "commerce": 1, "land": 1}
    assert [(h.hour.hour, h.events) for h in summary.throughput.hourly] == [(9, 2), (10, 4), (12, 4), (13, 1)]


def test_a_snapshot_excludes_rows_of_blocks_beyond_its_head(engine: Engine) -> None:
    projection = AnalyticsProjection()
    projection.prepare(engine)
    opened = event(
        "land",
        "land.transfer_requested",
        request_id="R-1",
        parcel_id="P-1",
        from_owner=CITIZEN,
        to_owner="c-" + "0b" * 16,
        consideration="1.00",
        approvers=["tax"],
        required=1,
    )
    decided = event("contract-engine", "land.transfer_expired", request_id="R-1", approvals=[])
    apply(engine, projection, block(1, "2026-03-02T10:00:00Z", opened), block(2, "2026-03-09T10:00:01Z", decided))
    with engine.begin() as conn:  # as a reader sees it having read the head just before block 2 committed
        conn.execute(update(t.head).values(height=1, time="2026-03-02T10:00:00Z"))
    data = read_snapshot(engine)
    assert [(c.case_id, c.outcome, c.decided_at) for c in data.cases] == [("R-1", None, None)]
    assert sum(e.events for e in data.events) == 1


def test_a_new_service_type_is_a_catalogue_entry(engine: Engine) -> None:
    permits = Catalogue(
        (
            ServiceType(
                name="permit",
                title="Building permit",
                opened_by="document.registered",
                key_field="document_id",
                decided_by={"credential.revoked": Decision("rejected", reason_field="reason")},
            ),
        )
    )
    projection = AnalyticsProjection(permits)
    projection.prepare(engine)
    apply(
        engine,
        projection,
        block(
            1,
            "2026-03-02T10:00:00Z",
            event("housing", "document.registered", document_id="D-1", sha256="a" * 64, title="Plan"),
        ),
        block(
            2,
            "2026-03-02T10:01:00Z",
            event("housing", "credential.revoked", credential_id="x", document_id="D-1", reason="incomplete"),
        ),
    )
    (case,) = read_snapshot(engine).cases
    assert (case.service_type, case.department, case.outcome, case.reason, case.processing_s) == (
        "permit",
        "housing",
        "rejected",
        "incomplete",
        60.0,
    )


def test_a_catalogue_refuses_ambiguous_entries() -> None:
    entry = ServiceType(name="a", title="A", opened_by="x.opened", key_field="id", decided_by={})
    with pytest.raises(ValueError, match="twice"):
        Catalogue((entry, entry))
    with pytest.raises(ValueError, match="already opens"):
        Catalogue((entry, ServiceType(name="b", title="B", opened_by="x.opened", key_field="id", decided_by={})))


def test_hours_are_bucketed_in_utc() -> None:
    assert hour_of("2026-03-02T10:59:59.999999Z") == "2026-03-02T10:00:00Z"
    assert hour_of("2026-03-02T00:00:00+08:00") == "2026-03-01T16:00:00Z"
