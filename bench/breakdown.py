"""Where the orderer's CPU goes, per event, without NATS: the steps of one batch timed apart.

The same product functions the orderer calls (``preparse``, ``sequence``, ``seal_block``,
``LedgerStore.record``) on pre-signed events, then the pieces inside them. A deterministic
complement to the pyinstrument profile of the running orderer (``--profile``); the
``ref:`` rows price what was replaced and what is proposed in bench/RESULTS.md.

    python -m bench.breakdown [--events 5000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from govchain.bus.subjects import event_subject
from govchain.protocol.block import seal_block
from govchain.protocol.canonical import canonical_bytes, reference_canonical_bytes
from govchain.protocol.envelope import Envelope, make_event, parse_json_object, utc_now
from govchain.protocol.genesis import genesis_payload, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Frontier, leaf_hash
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, Principal
from govchain.protocol.validation import validate_event
from govchain.protocol.verify import Checkpoint, VerifiedBlock
from govchain.services.ledger.sequencer import Intake, preparse, sequence
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine

BATCH = 500


REPEATS = 3


def _per_event(fn: Callable[[], Any], n: int) -> float:
    """µs per event of one call of ``fn`` (for steps with side effects)."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) / n * 1e6


def _best(fn: Callable[[], Any], n: int) -> float:
    """µs per event, best of a few calls: a pure step, so noise from other processes drops out."""
    return min(_per_event(fn, n) for _ in range(REPEATS))


def measure(n_events: int) -> dict[str, float]:
    """µs per event of each step, over ``n_events`` events in batches of 500."""
    root, orderer, tax = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    genesis = make_genesis_event("breakdown", [root], [orderer])
    state = ChainState.from_genesis(genesis_payload(genesis))
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(tax.public, "tax")
    events = [
        make_event(tax, source="tax", type="document.registered", event_id=f"b-{i}",
                   data={"document_id": f"d-{i}", "sha256": f"{i:064x}", "title": f"Record {i}"})
        for i in range(n_events)
    ]
    intakes = [Intake(event_subject("tax", e.type), e.to_bytes(), e.id, i + 1) for i, e in enumerate(events)]
    wires = [i.data for i in intakes]
    n = len(events)
    out: dict[str, float] = {}

    parsed = [preparse(i) for i in intakes]
    out["preparse (total)"] = _best(lambda: [preparse(i) for i in intakes], n)
    out["  JSON parse + Envelope model"] = _best(
        lambda: [Envelope.model_validate(parse_json_object(w, what="event")) for w in wires], n
    )
    out["  canonical forms (signing + signed)"] = _best(lambda: [e.canonical_forms() for e in events], n)
    batches = [parsed[i : i + BATCH] for i in range(0, n, BATCH)]
    out["sequence (total)"] = _best(lambda: [sequence(state, b, {}) for b in batches], n)
    out["  payload model (parse_data)"] = _best(
        lambda: [EVENT_TYPES.parse_data(e.type, e.schemaversion, e.data) for e in events], n
    )
    messages = [(bytes.fromhex(e.signature or ""), e.signing_bytes()) for e in events]
    openssl = Ed25519PublicKey.from_public_bytes(tax.public.raw)
    out["  Ed25519 verify (libsodium)"] = _best(lambda: [tax.public.verify(s, m) for s, m in messages], n)
    signing = [p.signing for p in parsed]
    out["  validate_event (total)"] = _best(
        lambda: [validate_event(state, e, b) for e, b in zip(events, signing, strict=True)], n
    )

    leaves = [p.leaf for p in parsed]
    sealed: list[tuple[VerifiedBlock, Checkpoint]] = []
    log = Frontier()

    def seal() -> None:
        for height, start in enumerate(range(0, n, BATCH), 1):
            chunk, chunk_leaves = events[start : start + BATCH], leaves[start : start + BATCH]
            new_nodes = [node for leaf in chunk_leaves for node in log.append(leaf)]
            block = seal_block(
                chain_id="breakdown", height=height, prev_hash="0" * 64, events=[e.to_dict() for e in chunk],
                leaf_hashes=chunk_leaves, log_after=log, time=utc_now(), orderer_key=orderer,
            )
            block.to_bytes()
            applied = VerifiedBlock(block, chunk, chunk_leaves, start, False, new_nodes, state)
            sealed.append((applied, Checkpoint(height, block.hash, log.copy(), state)))

    out["seal block + wire bytes"] = _per_event(seal, n)
    with tempfile.TemporaryDirectory() as tmp:
        store = LedgerStore(make_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}"))
        out["LedgerStore.record (SQLite)"] = _per_event(lambda: [store.record(a, c) for a, c in sealed], n)
        ids = [e.id for e in events]
        out["LedgerStore.included (dedup)"] = _best(
            lambda: [store.included(ids[i : i + BATCH]) for i in range(0, n, BATCH)], n
        )
        store.engine.dispose()

    # Yardsticks, not product code: what the replaced or candidate pieces cost.
    dicts = [e.to_dict() for e in events]
    out["ref: canonical_bytes of an envelope"] = _best(lambda: [canonical_bytes(d) for d in dicts], n)
    out["ref: rfc8785 package (before)"] = _best(lambda: [reference_canonical_bytes(d) for d in dicts], n)
    out["ref: Ed25519 verify, OpenSSL (before)"] = _best(lambda: [openssl.verify(s, m) for s, m in messages], n)
    out["ref: leaf hash only (sha256)"] = _best(lambda: [leaf_hash(w) for w in wires], n)
    return out


def print_breakdown(rows: dict[str, float]) -> None:
    core = rows["preparse (total)"] + rows["sequence (total)"] + rows["seal block + wire bytes"]
    core += rows["LedgerStore.record (SQLite)"] + rows["LedgerStore.included (dedup)"]
    print(f"\nOrderer CPU per event, without NATS (sum of the five totals: {core:.0f} µs/event "
          f"= {1e6 / core:,.0f} events/s on one core)")
    for name, us in rows.items():
        share = f"{us / core:5.0%}" if not name.startswith("ref:") else "     "
        print(f"  {name:<42} {us:8.1f} µs  {share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000)
    args = parser.parse_args()
    rows = measure(args.events)
    print_breakdown(rows)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
