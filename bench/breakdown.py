"""Where the orderer's CPU goes, per event, without NATS: the steps of one batch timed apart.

The same product functions the orderer calls (``preparse_message``, ``sequence``,
``seal_block``, ``LedgerStore.record``) on pre-signed events, sent alone or in batch envelopes
(``--batch-size``), then the pieces inside them. A deterministic
complement to the pyinstrument profile of the running orderer (``--profile``); the
``ref:`` rows price what was replaced and what is proposed in bench/RESULTS.md.

``--crypto gm`` times the same steps on a 国密 chain (SM2 keys, SM3 hashing; default ``intl``);
the Ed25519 and SHA-256 yardsticks are then left out.

    python -m bench.breakdown [--events 5000] [--batch-size 100] [--crypto intl|gm]
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.verifycost import cold_signature_cache
from govchain.bus.subjects import batch_subject, event_subject
from govchain.crypto import (
    CHECKPOINT_SUITE,
    DEFAULT_SUITE,
    INTL,
    SUITE_NAMES,
    needs_checkpoint_key,
    suite_by_name,
)
from govchain.protocol.batch import open_batch, sign_batch
from govchain.protocol.block import seal_block
from govchain.protocol.canonical import canonical_bytes, reference_canonical_bytes
from govchain.protocol.envelope import Envelope, make_event, utc_now
from govchain.protocol.eventref import EventKey
from govchain.protocol.fastpath import open_batch_parts
from govchain.protocol.genesis import genesis_payload, make_genesis_event
from govchain.protocol.jsontext import parse_json_object
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Frontier, leaf_hash
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, Principal
from govchain.protocol.validation import validate_event
from govchain.protocol.verify import Checkpoint, VerifiedBlock
from govchain.services.ledger.sequencer import Intake, block_wire, preparse_message, sequence
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine

BATCH = 500


REPEATS = 3


def _sequence_cold(state: ChainState, batches: list[list[Any]]) -> None:
    """``sequence`` over every block, each batch signature checked as the orderer checks it the
    first time it sees the batch: the check is cached per batch (``batchproof._root_signed``),
    so without emptying the cache the best of the repeats would skip every signature."""
    cold_signature_cache()
    for block in batches:
        sequence(state, block, {}, block_time=utc_now())


def _per_event(fn: Callable[[], Any], n: int) -> float:
    """µs per event of one call of ``fn`` (for steps with side effects). The garbage
    collector is held off while it runs: its cost depends on the whole process's heap, not
    on the step, and the live orderer's figure includes it."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()  # CPU time: what the step costs, however loaded the machine is
        fn()
        return (time.process_time() - t0) / n * 1e6
    finally:
        gc.enable()


def _best(fn: Callable[[], Any], n: int) -> float:
    """µs per event, best of a few calls: a pure step, so noise from other processes drops out."""
    return min(_per_event(fn, n) for _ in range(REPEATS))


def measure(n_events: int, batch_size: int = 1, crypto: str = DEFAULT_SUITE) -> dict[str, float]:
    """µs per event of each step, over ``n_events`` events in blocks of 500; with
    ``batch_size`` > 1 the events arrive in batch envelopes of that many, each signed once.
    ``crypto``: the chain's profile (``gm``: SM2 keys, SM3 hashing; the parts and yardsticks
    that only an intl chain has, Ed25519 and SHA-256 among them, are measured on intl alone)."""
    suite = suite_by_name(crypto)
    intl = suite is INTL
    root, orderer, tax = (SigningKey.generate(suite) for _ in range(3))
    checkpoint = SigningKey.generate(CHECKPOINT_SUITE) if needs_checkpoint_key(suite) else None
    genesis = make_genesis_event("breakdown", [root], [orderer], checkpoint_key=checkpoint)
    state = ChainState.from_genesis(genesis_payload(genesis))
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(tax.public, "tax")
    events = [
        make_event(
            tax,
            source="tax",
            type="document.registered",
            event_id=f"b-{i}",
            data={"document_id": f"d-{i}", "sha256": f"{i:064x}", "title": f"Record {i}"},
        )
        for i in range(n_events)
    ]
    wires = [e.to_bytes() for e in events]
    if batch_size == 1:
        intakes = [
            Intake(event_subject("tax", e.type), w, e.id, i + 1)
            for i, (e, w) in enumerate(zip(events, wires, strict=False))
        ]
    else:
        signed_batches = [sign_batch(tax, events[i : i + batch_size]) for i in range(0, n_events, batch_size)]
        intakes = [Intake(batch_subject("tax"), b.to_bytes(), b.msg_id, i + 1) for i, b in enumerate(signed_batches)]
    n = len(events)
    out: dict[str, float] = {}

    parsed = [p for i in intakes for p in preparse_message(i, suite)]
    assert all(p.rejection is None for p in parsed)
    events = [p.envelope for p in parsed if p.envelope is not None]
    out["preparse (total)"] = _best(lambda: [preparse_message(i, suite) for i in intakes], n)
    if intl and batch_size == 1:
        out["  JSON parse + Envelope model"] = _best(
            lambda: [Envelope.model_validate(parse_json_object(w, what="event")) for w in wires], n
        )
        out["  canonical forms (signing + signed)"] = _best(lambda: [e.canonical_forms() for e in events], n)
    elif intl:
        out["  open_batch_parts (the intake's fast path)"] = _best(
            lambda: [open_batch_parts(i.data) for i in intakes], n
        )
        out["ref: open_batch (reference reader)"] = _best(lambda: [open_batch(i.data) for i in intakes], n)
    batches = [parsed[i : i + BATCH] for i in range(0, n, BATCH)]
    out["sequence (total)"] = _best(lambda: _sequence_cold(state, batches), n)
    if intl:
        out["  payload model (parse_data)"] = _best(
            lambda: [EVENT_TYPES.parse_data(e.type, e.schemaversion, e.data) for e in events], n
        )
    alone = [e.signed_by(tax) for e in events[: min(n, 1000 if intl else 200)]]  # SM2 verifies ~30x slower
    messages = [(bytes.fromhex(e.signature or ""), e.signing_bytes()) for e in alone]
    verify_one = _best(lambda: [tax.public.verify(s, m) for s, m in messages], len(messages))
    verify_row = "  Ed25519 verify (libsodium), per event" if intl else f"  {suite.signature_name} verify, per event"
    out[verify_row] = verify_one / batch_size
    if intl:
        signing = [p.signing for p in parsed]
        out["  validate_event (total)"] = _best(
            lambda: [validate_event(state, e, b) for e, b in zip(events, signing, strict=True)], n
        )

    leaves = [p.leaf for p in parsed]
    records = [p.record or p.envelope.to_dict() for p in parsed if p.envelope is not None]
    signed = [p.signed for p in parsed]
    sealed: list[tuple[VerifiedBlock, Checkpoint]] = []
    log = Frontier(suite=suite)

    def seal() -> None:
        for height, start in enumerate(range(0, n, BATCH), 1):
            chunk, chunk_leaves = events[start : start + BATCH], leaves[start : start + BATCH]
            new_nodes = [node for leaf in chunk_leaves for node in log.append(leaf)]
            block = seal_block(
                chain_id="breakdown",
                height=height,
                prev_hash="0" * 64,
                events=records[start : start + BATCH],
                leaf_hashes=chunk_leaves,
                log_after=log,
                time=utc_now(),
                orderer_key=orderer,
            )
            block_wire(block, signed[start : start + BATCH])  # what the orderer appends
            applied = VerifiedBlock(block, chunk, chunk_leaves, start, False, new_nodes, state)
            sealed.append((applied, Checkpoint(height, block.hash, log.copy(), state)))

    out["seal block + wire bytes"] = _per_event(seal, n)
    with tempfile.TemporaryDirectory() as tmp:
        store = LedgerStore(make_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}"), suite)
        out["LedgerStore.record (SQLite)"] = _per_event(lambda: [store.record(a, c) for a, c in sealed], n)
        ids = [EventKey(e.source, e.id) for e in events]
        out["LedgerStore.included (dedup)"] = _best(
            lambda: [store.included(ids[i : i + BATCH]) for i in range(0, n, BATCH)], n
        )
        store.engine.dispose()

    # Yardsticks, not product code: what the replaced or candidate pieces cost.
    if intl:
        dicts = [e.to_dict() for e in events]
        openssl = Ed25519PublicKey.from_public_bytes(tax.public.raw)
        out["ref: canonical_bytes of an envelope"] = _best(lambda: [canonical_bytes(d) for d in dicts], n)
        out["ref: rfc8785 package (before)"] = _best(lambda: [reference_canonical_bytes(d) for d in dicts], n)
        out["ref: Ed25519 verify, OpenSSL (before)"] = _best(
            lambda: [openssl.verify(s, m) for s, m in messages], len(messages)
        )
        out["ref: leaf hash only (sha256)"] = _best(lambda: [leaf_hash(w) for w in wires], n)
    else:
        wires = [e.to_bytes() for e in events]
        out[f"ref: leaf hash only ({suite.hash_name})"] = _best(lambda: [suite.leaf_hash(w) for w in wires], n)
    return out


def print_breakdown(rows: dict[str, float], title: str) -> None:
    core = rows["preparse (total)"] + rows["sequence (total)"] + rows["seal block + wire bytes"]
    core += rows["LedgerStore.record (SQLite)"] + rows["LedgerStore.included (dedup)"]
    print(
        f"\nOrderer CPU per event, {title}, without NATS (sum of the five totals: {core:.0f} µs/event "
        f"= {1e6 / core:,.0f} events/s on one core)"
    )
    for name, us in rows.items():
        share = f"{us / core:5.0%}" if not name.startswith("ref:") else "     "
        print(f"  {name:<42} {us:8.1f} µs  {share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=1, help="events per batch envelope (1: each signed alone)")
    parser.add_argument(
        "--crypto", choices=SUITE_NAMES, default=DEFAULT_SUITE, help="the chain's crypto profile (default intl)"
    )
    args = parser.parse_args()
    rows = measure(args.events, args.batch_size, args.crypto)
    print_breakdown(rows, f"batches of {args.batch_size}" if args.batch_size > 1 else "each event signed alone")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
