"""The benchmark's events: document hashes registered by departments, signed before timing.

Signing costs about as much as verifying, so it is done up front in a process pool and the
timed phases only publish bytes. Each event is what ``GovChainClient.publish`` would send:
the RFC 8785 bytes of the signed envelope on ``gov.events.<dept>.<type>``, id as Nats-Msg-Id.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain, zip_longest

from govchain.bus.subjects import event_subject
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey

EVENT_TYPE = "document.registered"


@dataclass(frozen=True, slots=True)
class WireEvent:
    event_id: str
    subject: str
    payload: bytes


def _sign_range(pem: bytes, department: str, tag: str, start: int, count: int) -> list[WireEvent]:
    key = SigningKey.from_pem(pem)
    out = []
    for n in range(start, start + count):
        envelope = make_event(
            key,
            source=department,
            type=EVENT_TYPE,
            event_id=f"{tag}-{department}-{n}",
            data={"document_id": f"{department}-{tag}-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
        )
        out.append(WireEvent(envelope.id, event_subject(department, EVENT_TYPE), envelope.to_bytes()))
    return out


def presign(keys: dict[str, SigningKey], count: int, *, tag: str, workers: int | None = None) -> list[WireEvent]:
    """``count`` signed events spread evenly over the departments, interleaved."""
    departments = sorted(keys)
    per_department = -(-count // len(departments))
    workers = workers or min(len(departments), os.cpu_count() or 1)
    chunk = max(1, -(-per_department // workers))
    jobs = [
        (keys[d].to_pem(), d, tag, start, min(chunk, per_department - start))
        for d in departments
        for start in range(0, per_department, chunk)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_sign_range, *zip(*jobs, strict=True)))
    by_department: dict[str, list[WireEvent]] = {d: [] for d in departments}
    for (_, department, *_rest), part in zip(jobs, parts, strict=True):
        by_department[department].extend(part)
    interleaved = chain.from_iterable(zip_longest(*by_department.values()))
    return [e for e in interleaved if e is not None][:count]
