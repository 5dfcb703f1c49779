"""The benchmark's events: document hashes registered by departments, signed before timing.

Signing costs about as much as verifying, so it is done up front in a process pool and the
timed phases only publish bytes. Each message is what ``GovChainClient.publish`` would
send (the RFC 8785 bytes of the signed envelope on ``gov.events.<dept>.<type>``, id as
Nats-Msg-Id) or, with a batch size above one, what ``GovChainClient.publish_batch`` would
(a batch envelope, signed once, on ``gov.events.<dept>._batch``).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain, zip_longest

from govchain.bus.subjects import batch_subject, event_subject
from govchain.protocol.batch import sign_batch
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey

EVENT_TYPE = "document.registered"


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One message as a department's SDK publishes it: one signed event, or a batch envelope."""

    subject: str
    payload: bytes
    msg_id: str
    event_ids: tuple[str, ...]


def _sign_range(pem: bytes, department: str, tag: str, start: int, count: int, batch_size: int) -> list[WireMessage]:
    key = SigningKey.from_pem(pem)
    events = [
        make_event(
            key,
            source=department,
            type=EVENT_TYPE,
            event_id=f"{tag}-{department}-{n}",
            data={"document_id": f"{department}-{tag}-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
        )
        for n in range(start, start + count)
    ]
    if batch_size == 1:
        return [WireMessage(event_subject(department, EVENT_TYPE), e.to_bytes(), e.msg_id, (e.id,)) for e in events]
    out = []
    for first in range(0, len(events), batch_size):
        batch = sign_batch(key, events[first : first + batch_size])
        ids = tuple(str(event["id"]) for event in batch.events)
        out.append(WireMessage(batch_subject(department), batch.to_bytes(), batch.msg_id, ids))
    return out


def presign(
    keys: dict[str, SigningKey], count: int, *, tag: str, batch_size: int = 1, workers: int | None = None
) -> list[WireMessage]:
    """About ``count`` signed events spread evenly over the departments, interleaved; with
    ``batch_size`` > 1, as batch envelopes of that many events (each signed once)."""
    departments = sorted(keys)
    per_department = -(-count // len(departments))
    workers = workers or min(len(departments), os.cpu_count() or 1)
    chunk = max(batch_size, -(-per_department // workers // batch_size) * batch_size)
    jobs = [
        (keys[d].to_pem(), d, tag, start, min(chunk, per_department - start), batch_size)
        for d in departments
        for start in range(0, per_department, chunk)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_sign_range, *zip(*jobs, strict=True)))
    by_department: dict[str, list[WireMessage]] = {d: [] for d in departments}
    for (_, department, *_rest), part in zip(jobs, parts, strict=True):
        by_department[department].extend(part)
    interleaved = chain.from_iterable(zip_longest(*by_department.values()))
    return [m for m in interleaved if m is not None]


def event_count(messages: list[WireMessage]) -> int:
    return sum(len(m.event_ids) for m in messages)
