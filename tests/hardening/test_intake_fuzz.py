"""A storm of hostile messages straight onto ``gov.events.<dept>.<type>`` of a running ledger.

Garbage, oversized, malformed, forged, mis-addressed, duplicated and replayed messages are
published with plain JetStream (no SDK checks in the way). Afterwards every one of them is
accounted for by its intake sequence: rejected once with a reason and its original bytes, or
on chain exactly once, or de-duplicated; the orderer is still running, a good event still
commits, and the whole chain verifies. The seed is printed; set GOVCHAIN_FUZZ_SEED to replay.
"""

from __future__ import annotations

import json
import os
import random

import pytest
from nats.errors import MaxPayloadError

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.protocol import events as ev
from govchain.protocol.batch import MAX_BATCH_BYTES, sign_batch
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import RejectionReason
from govchain.protocol.keys import SigningKey
from tests.integration.conftest import Ledger

from .storm import (
    CHAIN_DUPLICATE,
    COMMIT,
    JS_DUPLICATE,
    REJECT,
    REJECT_OR_COMMIT,
    StormMessage,
    account,
    assert_storm_survived,
    garbage,
    mutants,
    oversized_payloads,
    publish_all,
    read_chain_ids,
    read_rejections,
    wait_drained,
)

DOC = "document.registered"
UNSAFE_MSG_IDS = ["has space {}", "dots.in.id.{}", "x" * 100 + "{}", "ünïcödé-{}", "*{}", ">{}"]
"""Message ids the orderer cannot use as an event id (it falls back to ``seq-<n>``); unique per message."""


def _seed() -> int:
    seed = int(os.environ.get("GOVCHAIN_FUZZ_SEED", random.randrange(2**32)))
    print(f"GOVCHAIN_FUZZ_SEED={seed}")
    return seed


def _doc_data(n: int, **overrides: object) -> dict[str, object]:
    return {"document_id": f"fz-{n}", "sha256": f"{n:064x}", "title": f"Fuzz {n}", **overrides}


def crafted(tax: SigningKey, reused_id: str) -> list[StormMessage]:
    """One message per way an event can be wrong, each with the reason it must get."""
    stranger = SigningKey.generate()
    good = make_event(tax, source="tax", type=DOC, data=_doc_data(1))
    forged = good.model_copy(update={"data": _doc_data(1, title="Altered")})
    unsigned = json.loads(good.to_bytes())
    del unsigned["signature"]
    no_offset = json.loads(good.to_bytes())
    no_offset["time"] = no_offset["time"].removesuffix("Z")
    far_future = make_event(
        tax, source="tax", type=DOC, data=_doc_data(9101), event_id="fuzz-future", time="9999-12-31T23:59:59Z"
    )
    long_ago = make_event(
        tax, source="tax", type=DOC, data=_doc_data(9102), event_id="fuzz-past", time="0001-01-01T00:00:00Z"
    )
    float_version = json.loads(good.to_bytes())
    float_version["schemaversion"] = 1.0
    subject = subjects.event_subject("tax", DOC)
    return [
        StormMessage.of("forged data", forged, REJECT, reason="bad_signature"),
        StormMessage.of(
            "stranger key",
            make_event(stranger, source="tax", type=DOC, data=_doc_data(2)),
            REJECT,
            reason="unknown_key",
        ),
        StormMessage.of(
            "unregistered department",
            make_event(stranger, source="ghost", type=DOC, data=_doc_data(3)),
            REJECT,
            reason="unknown_key",
        ),
        StormMessage.of(
            "unknown type", make_event(tax, source="tax", type="no.such_type", data={}), REJECT, reason="unknown_type"
        ),
        StormMessage.of(
            "invalid payload",
            make_event(tax, source="tax", type=DOC, data=_doc_data(4, sha256="xyz")),
            REJECT,
            reason="invalid_payload",
        ),
        StormMessage.of(
            "department registers a department",
            make_event(
                tax,
                source="tax",
                type="department.registered",
                data={"department_id": "rogue", "name": "Rogue", "public_key": stranger.public.hex},
            ),
            REJECT,
            reason="unauthorized",
        ),
        StormMessage.of(
            "reused id",
            make_event(tax, source="tax", type=DOC, data=_doc_data(5), event_id=reused_id),
            REJECT,
            reason="conflicting_id",
            msg_id="reused-id-1",
        ),
        StormMessage.of(
            "published under another department",
            good,
            REJECT,
            reason="subject_mismatch",
            subject=subjects.event_subject("land", DOC),
            msg_id="lie-1",
        ),
        StormMessage.of(
            "subject with extra tokens",
            good,
            REJECT,
            reason="subject_mismatch",
            subject=subjects.event_subject("tax", DOC) + ".extra",
            msg_id="lie-2",
        ),
        StormMessage.of(
            "subject without a type", good, REJECT, reason="subject_mismatch", subject="gov.events.tax", msg_id="lie-3"
        ),
        StormMessage("unsigned", subject, json.dumps(unsigned).encode(), "unsigned-1", REJECT, "malformed_envelope"),
        StormMessage("time without offset", subject, json.dumps(no_offset).encode(), "tz-1", REJECT, "invalid_time"),
        StormMessage.of("time far ahead of the block", far_future, REJECT, reason="invalid_time"),
        StormMessage.of("time long before the block", long_ago, REJECT, reason="invalid_time"),
        StormMessage(
            "schemaversion 1.0", subject, json.dumps(float_version).encode(), "sv-1", REJECT, "malformed_envelope"
        ),
    ]


def duplicates_and_replays(ledger: Ledger, committed: list[Envelope]) -> list[StormMessage]:
    """Re-sends: same message id (JetStream drops it), or a new id for an event already on chain
    (the orderer recognises it), including a state-changing one (a department registration)."""
    fresh = ledger.document("tax", 7001)
    twin = ledger.document("tax", 7002)
    out = [
        StormMessage.of("fresh event", fresh, COMMIT),
        StormMessage.of("fresh event, same msg id", fresh, JS_DUPLICATE),
        StormMessage.of("twin event", twin, COMMIT, msg_id="twin-a"),
        StormMessage.of("twin event, second msg id in the same batch", twin, CHAIN_DUPLICATE, msg_id="twin-b"),
    ]
    for n, envelope in enumerate(committed):
        out.append(
            StormMessage.of(f"replay of committed {envelope.type}", envelope, CHAIN_DUPLICATE, msg_id=f"replay-{n}")
        )
        out.append(
            StormMessage.of(f"replay of committed {envelope.type}, no msg id", envelope, CHAIN_DUPLICATE, header=False)
        )
    return out


def noise(ledger: Ledger, rng: random.Random, tax: SigningKey) -> list[StormMessage]:
    """Garbage, oversized bodies and random damage to a good event, under assorted message ids."""
    subject = subjects.event_subject("tax", DOC)
    out = []
    for n, body in enumerate(garbage(rng, 40)):
        msg_id = rng.choice(["garbage-{}", *UNSAFE_MSG_IDS, None])
        msg_id = msg_id.format(n) if msg_id else None
        out.append(
            StormMessage(
                f"garbage {n}",
                rng.choice([subject, "gov.events.x.y", "gov.events.UPPER.case"]),
                body,
                msg_id,
                REJECT,
                "malformed_envelope",
            )
        )
    for n, body in enumerate(oversized_payloads()):
        out.append(StormMessage(f"oversized {n}", subject, body, f"big-{n}", REJECT, "oversized"))
    base = make_event(tax, source="tax", type=DOC, data=_doc_data(9000), event_id="fuzz-base")
    for n, body in enumerate(mutants(base.to_bytes(), 120, rng)):
        out.append(StormMessage(f"mutant {n}", subject, body, rng.choice([f"mutant-{n}", None]), REJECT_OR_COMMIT))
    return out


async def test_intake_survives_a_storm_and_accounts_for_every_message(ledger: Ledger) -> None:
    rng = random.Random(_seed())
    js = ledger.nc.jetstream()
    tax = await ledger.register_department("tax")
    await ledger.register_department("land")
    committed_doc = ledger.document("tax", 1)
    assert (await ledger.submit(committed_doc))["status"] == "committed"
    registration = make_event(  # a state-changing event, committed, replayed below
        ledger.root,
        source=ev.ROOT,
        type="department.registered",
        data={"department_id": "water", "name": "Water", "public_key": SigningKey.generate().public.hex},
    )
    assert (await ledger.submit(registration))["status"] == "committed"

    storm = crafted(tax, committed_doc.id) + duplicates_and_replays(ledger, [committed_doc, registration])
    storm += noise(ledger, rng, tax)
    rng.shuffle(storm)
    # Keep each JetStream duplicate after its original, whatever the shuffle did.
    storm.sort(key=lambda m: m.expect == JS_DUPLICATE)
    sent = await publish_all(js, storm)

    # Beyond the server's max payload a message never reaches the stream: a clear client error.
    with pytest.raises(MaxPayloadError):
        await js.publish(subjects.event_subject("tax", DOC), b" " * (8 * 1024 * 1024))

    await assert_storm_survived(ledger, sent, ledger.document("tax", 8001))


@pytest.mark.parametrize("ledger", [{"batch_max_count": 7, "batch_max_wait_ms": 5}], indirect=True)
async def test_small_batches_split_duplicates_across_blocks_and_still_order_each_once(ledger: Ledger) -> None:
    """The same events re-sent under new message ids, interleaved, so copies land in different
    blocks (or the same one): each id is ordered once, and no copy is rejected."""
    js = ledger.nc.jetstream()
    await ledger.register_department("tax")
    events = [ledger.document("tax", n) for n in range(30)]
    storm = []
    for round_ in range(3):
        for envelope in events:
            storm.append(
                StormMessage.of(
                    f"copy {round_}",
                    envelope,
                    COMMIT if round_ == 0 else CHAIN_DUPLICATE,
                    msg_id=f"{envelope.id}-{round_}",
                )
            )
    sent = await publish_all(js, storm)
    await wait_drained(js)
    problems = account(sent, await read_rejections(js), await read_chain_ids(js))
    assert not problems, "\n".join(problems)
    assert (await verify_chain(js)).ok


async def test_batch_intake_survives_garbage_and_damaged_batches(ledger: Ledger) -> None:
    """Garbage, oversized and randomly damaged batch envelopes on ``gov.events.tax._batch``:
    each message is refused whole or opened into events judged one by one; nothing but the
    signed batch's own events ever reaches the chain, each once; the orderer keeps going."""
    rng = random.Random(_seed())
    js = ledger.nc.jetstream()
    tax = await ledger.register_department("tax")
    batch = sign_batch(tax, [ledger.document("tax", n) for n in range(12)])
    assert {r["status"] for r in await ledger.client.submit_batch(batch)} == {"committed"}
    before = await read_chain_ids(js)
    subject = subjects.batch_subject("tax")

    storm = [
        StormMessage(f"garbage {n}", subject, body, f"bgarbage-{n}", REJECT, "malformed_envelope")
        for n, body in enumerate(garbage(rng, 30))
    ]
    storm += [
        StormMessage(f"oversized {n}", subject, body, f"bbig-{n}", REJECT, "oversized")
        for n, body in enumerate([b" " * (MAX_BATCH_BYTES + 1), b"{" + b" " * MAX_BATCH_BYTES + b"}"])
    ]
    storm += [
        StormMessage(f"mutant {n}", subject, body, rng.choice([f"bmutant-{n}", None]), REJECT_OR_COMMIT)
        for n, body in enumerate(mutants(batch.to_bytes(), 120, rng))
    ]
    sent = await publish_all(js, storm)
    await wait_drained(js)

    assert ledger.task is not None and not ledger.task.done(), "the orderer stopped"
    later = sign_batch(tax, [ledger.document("tax", 100 + n) for n in range(3)])
    assert {r["status"] for r in await ledger.client.submit_batch(later)} == {"committed"}
    rejections = await read_rejections(js)
    known = {reason.value for reason in RejectionReason}
    for message in sent:
        records = rejections.get(message.ack.seq, [])
        assert all(r["reason"] in known and r["detail"] for r in records), message.message.label
        if message.message.expect == REJECT:
            assert [r["reason"] for r in records] == [message.message.reason], message.message.label
    # A damaged batch fails to open or fails its signature; damage that parsing undoes
    # re-delivers the signed events, which are already on chain. Nothing else ever commits.
    on_chain = await read_chain_ids(js)
    assert set(on_chain) == set(before) | {str(e["id"]) for e in later.events}
    assert all(count == 1 for count in on_chain.values())
    assert (await verify_chain(js, genesis_hash=ledger.settings.genesis_hash)).ok
