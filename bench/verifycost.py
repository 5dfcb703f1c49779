"""What reading the chain back costs per event, without NATS: a projection's verify (catch-up)
and an auditor's full verify, over a chain built in memory the way the orderer builds it.

The chain is the benchmark's own: a genesis block, the departments' registration, then blocks
of up to 500 ``document.registered`` events that arrived in batch envelopes (``--batch-size``,
1 = every event signed alone). The raw block bytes are made once; then each mode reads them
back with the product's code (``Block.from_bytes`` + ``ChainVerifier.verify``), best of
``--repeats``, with the collector held off (as in bench/breakdown.py). ``--profile`` prints a
cProfile of one pass of each mode (call counts do not depend on the machine's load).

Each timed pass starts with the batch-signature cache empty (``cold_signature_cache``), as a
projection or an auditor does when it starts: building the chain here checks every batch
signature, and until 2026-12-05 the read-back found them all cached and skipped them.

``--crypto gm`` builds and reads a 国密 chain (SM2 keys, SM3 hashing; default ``intl``).

    python -m bench.verifycost [--events 50000] [--batch-size 100] [--crypto intl|gm] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import time
from collections.abc import Callable

from govchain.bus.subjects import batch_subject, event_subject
from govchain.crypto import CHECKPOINT_SUITE, DEFAULT_SUITE, INTL, SUITE_NAMES, needs_checkpoint_key, suite_by_name
from govchain.protocol import batchproof
from govchain.protocol.batch import sign_batch
from govchain.protocol.block import Block
from govchain.protocol.envelope import make_event, utc_now
from govchain.protocol.genesis import genesis_payload, make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.state import ChainState
from govchain.protocol.verify import ChainVerifier
from govchain.services.ledger.sequencer import Intake, preparse_message, seal_judged, sequence

BLOCK_EVENTS = 500


def build_chain(
    n_events: int, batch_size: int = 100, departments: int = 4, crypto: str = DEFAULT_SUITE
) -> tuple[str, list[bytes]]:
    """(genesis hash, raw blocks) of a chain holding ``n_events`` documents after its set-up,
    of the crypto profile ``crypto`` (every key of its suite, as on a chain it founded)."""
    suite = suite_by_name(crypto)
    root, orderer = SigningKey.generate(suite), SigningKey.generate(suite)
    if needs_checkpoint_key(suite):  # a gm chain, as `govchain init --crypto gm` makes it
        checkpoint = SigningKey.generate(CHECKPOINT_SUITE)
        genesis_event = make_genesis_event("verifycost", [root], [orderer], checkpoint_key=checkpoint)
    else:
        genesis_event = make_genesis_event("verifycost", [root], [orderer])
    genesis = make_genesis_block(genesis_event, orderer)
    verifier = ChainVerifier(genesis_hash=genesis.hash)
    verifier.verify(genesis)
    state = ChainState.from_genesis(genesis_payload(genesis_event))
    raws = [genesis.to_bytes()]
    keys = {f"dept{i}": SigningKey.generate(suite) for i in range(departments)}
    registrations = [
        make_event(
            root,
            source="root",
            type="department.registered",
            data={"department_id": d, "name": d.title(), "public_key": k.public.hex},
        )
        for d, k in keys.items()
    ]
    intakes = [Intake(event_subject("root", e.type), e.to_bytes(), e.id, i) for i, e in enumerate(registrations, 1)]
    per_dept = -(-n_events // departments)
    for d, key in keys.items():
        events = [
            make_event(
                key,
                source=d,
                type="document.registered",
                event_id=f"{d}-{n}",
                data={"document_id": f"{d}-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
            )
            for n in range(per_dept)
        ]
        if batch_size == 1:
            intakes += [Intake(event_subject(d, e.type), e.to_bytes(), e.id, 0) for e in events]
        else:
            for first in range(0, len(events), batch_size):
                b = sign_batch(key, events[first : first + batch_size])
                intakes.append(Intake(batch_subject(d), b.to_bytes(), b.msg_id, 0))
    hasher = None if suite is INTL else suite  # the orderer's pre-parse hashes leaves with the chain's suite
    parsed = [p for intake in intakes for p in preparse_message(intake, hasher)]
    cut = [parsed[: len(registrations)]] + [
        parsed[i : i + BLOCK_EVENTS] for i in range(len(registrations), len(parsed), BLOCK_EVENTS)
    ]
    for items in cut:
        checkpoint = verifier.checkpoint
        assert checkpoint is not None
        block_time = utc_now()
        judged = sequence(state, items, {}, block_time=block_time)
        assert not judged.rejections, judged.rejections[:1]
        raw = seal_judged(checkpoint, judged, block_time=block_time, key=orderer).wire  # what the orderer appends
        verifier.verify(Block.from_bytes(raw))
        raws.append(raw)
    return genesis.hash, raws


def cold_signature_cache() -> None:
    """Forget the batch-signature checks made so far (``batchproof._root_signed`` is an LRU
    cache, shared by the orderer's validation and the verifier): a reader that starts has
    checked none, so a timed pass must not find the ones building the chain made."""
    cached = getattr(batchproof, "_root_signed", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def read_back(genesis_hash: str, raws: list[bytes], *, check_events: bool) -> int:
    """What ``verify_chain`` (check_events) or a projection runner does with each block."""
    verifier = ChainVerifier(genesis_hash=genesis_hash, check_events=check_events)
    events = 0
    for height, raw in enumerate(raws):
        verified = verifier.verify(Block.from_bytes(raw, height_hint=height))
        events += len(verified.leaf_hashes)
    return events


def _timed(fn: Callable[[], int], repeats: int) -> tuple[int, float]:
    """(events, CPU seconds of the best run): CPU time, because the wall clock on a shared
    machine also counts the time other processes held the core."""
    best = float("inf")
    events = 0
    for _ in range(repeats):
        cold_signature_cache()
        gc.collect()
        gc.disable()
        try:
            t0 = time.process_time()
            events = fn()
            best = min(best, time.process_time() - t0)
        finally:
            gc.enable()
    return events, best


def measure(n_events: int, batch_size: int = 100, repeats: int = 3, crypto: str = DEFAULT_SUITE) -> dict[str, float]:
    """Events per second and µs per event of each mode (CPU of one core, best of ``repeats``)."""
    genesis_hash, raws = build_chain(n_events, batch_size, crypto=crypto)
    out: dict[str, float] = {"events": float(n_events), "blocks": float(len(raws))}
    for mode, check in (("catchup_verify", False), ("full_verify", True)):
        events, seconds = _timed(lambda check=check: read_back(genesis_hash, raws, check_events=check), repeats)
        out[f"{mode}_us_per_event"] = seconds / events * 1e6
        out[f"{mode}_per_s"] = events / seconds
    return out


def profile(n_events: int, batch_size: int, top: int = 30, crypto: str = DEFAULT_SUITE) -> str:
    genesis_hash, raws = build_chain(n_events, batch_size, crypto=crypto)
    text = io.StringIO()
    for check in (False, True):
        cold_signature_cache()
        profiler = cProfile.Profile()
        profiler.enable()
        read_back(genesis_hash, raws, check_events=check)
        profiler.disable()
        print(f"\n=== check_events={check} ===", file=text)
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each mode instead")
    parser.add_argument(
        "--crypto", choices=SUITE_NAMES, default=DEFAULT_SUITE, help="the chain's crypto profile (default intl)"
    )
    args = parser.parse_args()
    if args.profile:
        print(profile(args.events, args.batch_size, crypto=args.crypto))
        return
    rows = measure(args.events, args.batch_size, args.repeats, args.crypto)
    print(f"  {'crypto':<28} {args.crypto:>12}")
    for name, value in rows.items():
        print(f"  {name:<28} {value:12,.1f}")
    print(json.dumps({"crypto": args.crypto, **rows}))


if __name__ == "__main__":
    main()
