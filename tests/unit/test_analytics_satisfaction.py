"""Ratings of service cases: which count (decided in the projection), and the figures, by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.services.analytics import tables as t
from govchain.services.analytics.metrics import AnalyticsConfig, CaseRow, summarize
from govchain.services.analytics.projection import AnalyticsProjection
from govchain.services.analytics.satisfaction import RatingRow, satisfaction
from govchain.services.analytics.store import read_snapshot
from govchain.storage.engine import make_engine

KEY = SigningKey.generate()
ALICE = "c-" + "0a" * 16
BOB = "c-" + "0b" * 16
SEALED_FOR_ALICE = {"enc": "aes-256-gcm", "subject": ALICE, "kv": 1, "nonce": "AAAAAAAAAAAAAAAA", "ct": "A" * 24}


def event(source: str, type: str, **data: Any) -> Envelope:
    return make_event(KEY, source=source, type=type, data=data, time="2030-01-01T00:00:00.000000Z")


def block(height: int, time: str, *events: Envelope) -> Any:
    header = SimpleNamespace(height=height, time=time)
    return SimpleNamespace(block=SimpleNamespace(header=header), envelopes=list(events))


def rated(rater: str, case_id: str, score: int, service_type: str = "business-license", **extra: Any) -> Envelope:
    return event(rater, "case.rated", service_type=service_type, case_id=case_id, score=score, **extra)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'analytics.db'}")
    yield engine
    engine.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        AnalyticsProjection().prepare(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_name": lambda name, type_, _: type_ != "table" or name in t.metadata.tables}
            )
            assert list(compare_metadata(context, t.metadata)) == []
    finally:
        engine.dispose()


def test_only_the_applicant_rates_a_decided_case_once(engine: Engine) -> None:
    projection = AnalyticsProjection()
    projection.prepare(engine)
    blocks = [
        block(
            1,
            "2026-03-02T09:00:00.000000Z",
            event(
                "market",
                "business.registered",
                business_id="B-1",
                name="N",
                registration_no="1",
                address="A",
                activity="x",
                owner=ALICE,
            ),
            event(
                ALICE,
                "license.applied",
                application_id="A-1",
                applicant=ALICE,
                business_id="B-1",
                kind="food",
                documents=["1" * 64],
            ),
            event(
                BOB,
                "license.applied",
                application_id="A-2",
                applicant=BOB,
                business_id="B-1",
                kind="food",
                documents=["1" * 64],
            ),
        ),
        block(
            2,
            "2026-03-02T10:00:00.000000Z",
            rated(ALICE, "A-1", 5),  # before the decision
            rated(ALICE, "A-404", 5),
        ),  # no such case
        block(
            3,
            "2026-03-02T11:00:00.000000Z",
            event(
                "contract-engine",
                "license.issued",
                license_id="L-1",
                business_id="B-1",
                kind="food",
                valid_from="2026-03-02",
                valid_until="2027-03-02",
                application_id="A-1",
            ),
            event(
                "contract-engine",
                "license.application_rejected",
                application_id="A-2",
                failed_condition="applicant_owns_business",
            ),
        ),
        block(
            4,
            "2026-03-03T08:00:00.000000Z",
            rated(BOB, "A-1", 1),  # not Bob's case
            rated(ALICE, "A-1", 4, comment=SEALED_FOR_ALICE),  # counts
            rated(ALICE, "A-1", 2),
        ),  # second rating
        block(
            5,
            "2026-03-04T08:00:00.000000Z",
            rated(BOB, "A-2", 2, comment={**SEALED_FOR_ALICE}),  # comment sealed for someone else
        ),
        block(6, "2026-03-04T09:00:00.000000Z", rated(BOB, "A-2", 1)),  # counts
    ]
    for b in blocks:
        with engine.begin() as conn:
            projection.apply(conn, b)
    with engine.connect() as conn:
        rows = {
            (r.height, r.void_reason.split(":")[0] if r.void_reason else None) for r in conn.execute(select(t.ratings))
        }
    assert rows == {
        (2, "not_decided"),
        (2, "unknown_case"),
        (4, "not_applicant"),
        (4, None),
        (4, "already_rated"),
        (5, "comment_not_rater"),
        (6, None),
    }

    s = summarize(read_snapshot(engine), AnalyticsConfig()).satisfaction
    licence = s.by_service_type[0]
    assert licence.service_type == "business-license"
    # counted: Alice 4 (with comment), Bob 1; decided cases: 2
    assert (licence.ratings, licence.decided, licence.response_rate, licence.mean_score) == (2, 2, 1.0, 2.5)
    assert licence.distribution == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 0}
    assert licence.comments == 1
    assert [(d.department, d.ratings, d.mean_score) for d in s.by_department] == [("market", 2, 2.5)]
    assert [(p.day, p.ratings, p.mean_score) for p in s.trend] == [("2026-03-03", 1, 4.0), ("2026-03-04", 1, 1.0)]
    assert s.void_by_reason == {
        "already_rated": 1,
        "comment_not_rater": 1,
        "not_applicant": 1,
        "not_decided": 1,
        "unknown_case": 1,
    }
    assert {v.reason.split(":")[0] for v in s.void[:2]} == {"not_decided", "unknown_case"}  # block 2 first
    land = s.by_service_type[1]
    assert (land.service_type, land.ratings, land.decided, land.response_rate, land.mean_score) == (
        "land-transfer",
        0,
        0,
        None,
        None,
    )


def test_figures_by_hand() -> None:
    day = lambda d, h=12: datetime(2026, 3, d, h, tzinfo=UTC)  # noqa: E731
    cases = [
        CaseRow("business-license", f"A-{n}", "market" if n < 4 else "commerce", day(1), day(2), "approved")
        for n in range(6)
    ] + [CaseRow("business-license", "A-open", "market", day(1))]
    ratings = [
        RatingRow("e1", "business-license", "A-0", "market", 5, day(2)),
        RatingRow("e2", "business-license", "A-1", "market", 3, day(2)),
        RatingRow("e3", "business-license", "A-2", "market", 4, day(3)),
        RatingRow("e4", "business-license", "A-4", "commerce", 2, day(3)),
        RatingRow("e5", "business-license", "A-4", "commerce", 5, day(3), void_reason="already_rated: x"),
    ]
    s = satisfaction(ratings, cases, ["business-license"])
    overall = s.by_service_type[0]
    # 4 counted ratings of 6 decided cases; (5 + 3 + 4 + 2) / 4 = 3.5
    assert (overall.ratings, overall.decided, overall.mean_score) == (4, 6, 3.5)
    assert overall.response_rate == pytest.approx(4 / 6)
    assert overall.distribution == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1}
    by_dept = {d.department: d for d in s.by_department}
    assert (by_dept["market"].ratings, by_dept["market"].decided, by_dept["market"].mean_score) == (3, 4, 4.0)
    assert by_dept["market"].response_rate == 0.75
    assert (by_dept["commerce"].ratings, by_dept["commerce"].decided, by_dept["commerce"].mean_score) == (1, 2, 2.0)
    assert [(p.day, p.ratings, p.mean_score) for p in s.trend] == [("2026-03-02", 2, 4.0), ("2026-03-03", 2, 3.0)]
    assert s.void_by_reason == {"already_rated": 1}
