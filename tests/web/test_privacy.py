"""Issue 9 · Privacy, at the gateway, against the running demo platform:

* every event view (API, portal, explorer) hides the fields that link a person's events from
  the public, and shows them to a signed-in officer;
* a forged or wrongly signed event is refused before it is published: nothing for it reaches
  stream EVENTS;
* events are named by source and id: a bare id that several sources used is ambiguous.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError

from govchain.bus import subjects
from govchain.crypto import INTL
from govchain.datadir import DataDir
from govchain.protocol.batch import sign_batch
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym
from govchain.services.cli.demo import DEMO_BUYER_NATIONAL_ID

from .conftest import Platform
from .test_api import error_code, from_address, sign_in


@pytest.fixture(scope="module")
def pseudonyms(platform: Platform) -> tuple[str, str]:
    """The demo's two citizens: the first owner (business, parcel) and the buyer of the parcel."""
    return platform.summary["citizen_id"], pseudonym(
        DEMO_BUYER_NATIONAL_ID, DataDir(platform.data).pseudonym_key(), suite=INTL
    )


@pytest.fixture(scope="module")
def addresses() -> Iterator[str]:
    """Client addresses for the trusted proxy to name: each its own rate-limit budget."""
    return (f"198.18.{a}.{b}" for a, b in itertools.product(range(256), range(1, 255)))


def _no_pseudonym(response: httpx.Response, names: tuple[str, ...]) -> None:
    assert response.status_code == 200, response.text[:300]
    for name in names:
        assert name not in response.text, f"{name} in {response.request.url}"


def test_the_public_sees_no_pseudonym_in_a_transfer_or_a_registration_an_officer_does(
    platform: Platform,
    pseudonyms: tuple[str, str],
    addresses: Iterator[str],
) -> None:
    owner, buyer = pseudonyms
    registrar = SigningKey.load(DataDir(platform.data).key_file("land-registrar"))
    with from_address(platform, next(addresses)) as api:
        officer = sign_in(api, "land-registrar", registrar)
        history = api.get("/api/v1/registry/parcels/P-0001").json()["history"]
        transfer = next(tx["event_id"] for tx in history if tx["transfer_id"] == "T-0001")
        registration = api.get("/api/v1/registry/businesses/B-0001", headers=officer).json()["record"]["event_ids"][0]
        for ref, hidden in (
            (transfer, {"from_owner", "to_owner", "to_owner_details"}),
            (registration, {"owner", "owner_details"}),
        ):
            public = api.get(f"/api/v1/events/{ref}")
            _no_pseudonym(public, pseudonyms)
            shown = public.json()
            assert shown["visibility"] == "public" and shown["proof_verified"] is True
            assert {f"event.data.{name}" for name in hidden} <= set(shown["redacted_fields"])
            assert all(shown["event"]["data"][name] == {"redacted": True} for name in hidden)

            seen = api.get(f"/api/v1/events/{ref}", headers=officer).json()
            assert seen["visibility"] == "officer" and seen["redacted_fields"] == [] and seen["proof_verified"]
            assert owner in json.dumps(seen["event"])

            height = shown["receipt"]["height"]
            _no_pseudonym(api.get(f"/api/v1/blocks/{height}"), pseudonyms)
            assert owner in api.get(f"/api/v1/blocks/{height}", headers=officer).text

            page = api.get(f"/events/{ref}", params={"lang": "en"})
            _no_pseudonym(page, pseudonyms)
            assert "Some fields are hidden" in page.text and "verified the inclusion proof" in page.text
            assert owner in api.get(f"/events/{ref}", headers=officer).text
            _no_pseudonym(api.get(f"/blocks/{height}"), pseudonyms)
        assert buyer in api.get(f"/api/v1/events/{transfer}", headers=officer).text


def test_the_explorer_shows_no_pseudonym_anywhere_on_the_chain(
    platform: Platform,
    pseudonyms: tuple[str, str],
    addresses: Iterator[str],
) -> None:
    """Every block, through the API and the portal: citizens' applications and erasures too,
    whose source is the citizen themself (and whose links must not carry it)."""
    with httpx.Client(base_url=platform.url, timeout=60) as api:
        newest = api.get("/api/v1/chain/head", headers={"X-Forwarded-For": next(addresses)}).json()["header"]["height"]
        signed_by_citizens = []
        for height in range(newest + 1):
            address = {"X-Forwarded-For": next(addresses)}
            block = api.get(f"/api/v1/blocks/{height}", headers=address)
            _no_pseudonym(block, pseudonyms)
            signed_by_citizens += [e["id"] for e in block.json()["events"] if e["source"] == {"redacted": True}]
            _no_pseudonym(api.get(f"/blocks/{height}", headers=address), pseudonyms)
        _no_pseudonym(api.get("/", headers={"X-Forwarded-For": next(addresses)}), pseudonyms)
        assert len(signed_by_citizens) >= 2  # the demo's licence application and erasure
        for event_id in signed_by_citizens:  # as their links name them: by the bare id
            address = {"X-Forwarded-For": next(addresses)}
            shown = api.get(f"/api/v1/events/{event_id}", headers=address)
            _no_pseudonym(shown, pseudonyms)
            assert {"event.source", "event.signer", "receipt.source", "proof.source"} <= set(
                shown.json()["redacted_fields"]
            )
            _no_pseudonym(api.get(f"/events/{event_id}", headers=address), pseudonyms)


# -- nothing forged reaches stream EVENTS


async def _events_last_seq(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(subjects.EVENTS_STREAM)).state.last_seq)
    finally:
        await nc.close()


async def _refusals_recorded(url: str, envelopes: list[Envelope]) -> list[str]:
    """Which of ``envelopes`` the orderer refused (so were published after all)."""
    nc = await nats.connect(url)
    found = []
    try:
        for envelope in envelopes:
            try:
                await nc.jetstream().get_last_msg(
                    subjects.REJECTED_STREAM, subjects.rejected_subject(envelope.source, envelope.id)
                )
                found.append(envelope.id)
            except NotFoundError:
                pass
    finally:
        await nc.close()
    return found


async def _quiet_last_seq(url: str) -> int:
    """EVENTS' last sequence once nothing has been published for a moment (the contract engine
    may still be answering the blocks this test's set-up made)."""
    last = await _events_last_seq(url)
    for _ in range(50):
        await asyncio.sleep(0.3)
        now = await _events_last_seq(url)
        if now == last:
            break
        last = now
    return last


def test_forged_and_wrongly_signed_events_are_refused_before_publishing(
    platform: Platform,
    addresses: Iterator[str],
) -> None:
    data = DataDir(platform.data)
    land, market = data.signing_key("land-bureau"), data.signing_key("market-regulator")
    retired = SigningKey.generate()

    def document(key: SigningKey, event_id: str, source: str = "land-bureau") -> Envelope:
        return make_event(
            key,
            source=source,
            type="document.registered",
            event_id=event_id,
            data={"document_id": event_id, "sha256": "5e" * 32, "title": "Refused at the gateway"},
        )

    with from_address(platform, next(addresses)) as api:
        # Set-up: land-bureau adds a key and revokes it at once.
        added = make_event(
            land,
            source="land-bureau",
            type="key.added",
            data={"owner": "land-bureau", "public_key": retired.public.hex},
        )
        assert api.post("/api/v1/events", json=added.to_dict()).status_code == 201
        revoked = make_event(
            land,
            source="land-bureau",
            type="key.revoked",
            data={"key_id": retired.key_id, "reason": "test: a key that was lost"},
        )
        assert api.post("/api/v1/events", json=revoked.to_dict()).status_code == 201

        genuine = document(land, "gw-genuine")
        cases = {
            "bad_signature": genuine.model_copy(update={"id": "gw-forged", "data": {**genuine.data, "title": "x"}}),
            "unknown_key": document(SigningKey.generate(), "gw-unknown-key"),
            "signer_not_of_source": document(market, "gw-not-of-source"),
            "key_revoked": document(retired, "gw-revoked-key"),
        }
        before = asyncio.run(_quiet_last_seq(platform.nats_url))
        for reason, envelope in cases.items():
            refused = api.post("/api/v1/events", json=envelope.to_dict())
            assert refused.status_code == 422 and error_code(refused) == reason, refused.text
        batch = sign_batch(land, [document(land, f"gw-batch-{n}") for n in range(2)]).model_dump()
        batch["events"][1] = {**batch["events"][1], "data": {**batch["events"][1]["data"], "title": "forged"}}
        refused = api.post("/api/v1/events/batch", json=batch)
        assert refused.status_code == 422 and error_code(refused) == "bad_signature", refused.text
        after = asyncio.run(_events_last_seq(platform.nats_url))

        assert after == before, "a refused event reached stream EVENTS"
        assert asyncio.run(_refusals_recorded(platform.nats_url, list(cases.values()))) == []
        # A genuine one still goes through (and so the stream moves).
        assert api.post("/api/v1/events", json=genuine.to_dict()).status_code == 201
        assert asyncio.run(_events_last_seq(platform.nats_url)) > after


# -- events named by source and id (needs the ledger's (source, id) contract)


def test_an_id_two_sources_used_is_ambiguous_alone_and_found_with_its_source(
    platform: Platform,
    addresses: Iterator[str],
) -> None:
    data = DataDir(platform.data)
    twins = {
        source: make_event(
            data.signing_key(source),
            source=source,
            type="document.registered",
            event_id="gw-twin",
            data={"document_id": f"twin-{source}", "sha256": "7a" * 32, "title": f"Same id, {source}"},
        )
        for source in ("land-bureau", "market-regulator")
    }
    with from_address(platform, next(addresses)) as api:
        for envelope in twins.values():
            assert api.post("/api/v1/events", json=envelope.to_dict()).status_code == 201

        alone = api.get("/api/v1/events/gw-twin")
        assert alone.status_code == 409 and error_code(alone) == "ambiguous_id"
        assert sorted(alone.json()["error"]["sources"]) == ["land-bureau", "market-regulator"]
        assert alone.json()["error"]["event_id"] == "gw-twin"
        for source, envelope in twins.items():
            found = api.get(f"/api/v1/events/{source}/gw-twin").json()
            assert found["event"] == envelope.to_dict() and found["proof_verified"] is True
            assert found["receipt"]["source"] == source
            proof = api.get(f"/api/v1/events/{source}/gw-twin/proof").json()
            assert proof["verified"] is True and proof["source"] == source

        choice = api.get("/events/gw-twin", headers={"Accept": "text/html"})
        assert choice.status_code == 409
        assert all(f'href="/events/{source}/gw-twin"' in choice.text for source in twins)
        page = api.get("/events/market-regulator/gw-twin")
        assert page.status_code == 200 and "Same id, market-regulator" in page.text
        search = api.get("/search", params={"q": "gw-twin"}, follow_redirects=False)
        assert search.status_code == 303 and search.headers["location"] == "/events/gw-twin"
        search = api.get("/search", params={"q": "land-bureau/gw-twin"}, follow_redirects=False)
        assert search.headers["location"] == "/events/land-bureau/gw-twin"

        height = api.get("/api/v1/events/land-bureau/gw-twin").json()["receipt"]["height"]
        assert 'href="/events/land-bureau/gw-twin"' in api.get(f"/blocks/{height}").text
        assert "/events/" + "land-bureau" in api.get("/registry/parcel", params={"id": "P-0001"}).text
