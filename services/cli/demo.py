"""``govchain demo``: a scripted scenario on a throw-away platform, ending in a verified chain.

It plays what happens on a real deployment: the root authority admits departments, the
departments publish signed records, some bad events arrive and are refused with reasons,
a re-sent event is de-duplicated, and at the end the chain is verified and a proof checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import Progress

from govchain.audit import verify_chain
from govchain.bus.blocks import last_height
from govchain.bus.connect import connect
from govchain.client import LedgerClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.proofs import inclusion_problem
from govchain.services.cli.common import err_console, trusted_orderer_keys
from govchain.services.platform import run_platform

DEPARTMENTS = {"market-regulator": "Market Regulation Bureau", "land-bureau": "Land and Resources Bureau"}
DOCUMENTS_PER_DEPARTMENT = 5


async def run_demo(
    data: Path | None, *, keep: bool, quiet: bool, on_summary: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    if data is not None:
        return await _demo_in(data, keep=keep, quiet=quiet, on_summary=on_summary)
    with tempfile.TemporaryDirectory(prefix="govchain-demo-") as tmp:
        return await _demo_in(Path(tmp), keep=False, quiet=quiet, on_summary=on_summary)


async def _demo_in(
    data: Path, *, keep: bool, quiet: bool, on_summary: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    settings = Settings(data_dir=data, nats_port=0)
    data_dir = DataDir(data)
    if not data_dir.is_initialised():
        data_dir.init("govchain-demo")
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    platform = asyncio.create_task(run_platform(settings, stop, on_ready=ready.set_result))
    try:
        done, _ = await asyncio.wait({platform, ready}, return_when=asyncio.FIRST_COMPLETED)
        if platform in done:
            platform.result()  # raises the start-up failure
        nats_url = ready.result()
        summary = await _scenario(settings, data_dir, nats_url, quiet=quiet)
        on_summary(summary)
        if keep:
            err_console.print(f"platform left running (NATS {nats_url}); press Ctrl-C to stop")
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        return summary
    finally:
        stop.set()
        await asyncio.gather(platform, return_exceptions=True)


def _department_key(data_dir: DataDir, department: str) -> SigningKey:
    path = data_dir.key_file(department)
    if path.exists():
        return SigningKey.load(path)
    key = SigningKey.generate()
    key.save(path)
    return key


async def _scenario(settings: Settings, data_dir: DataDir, nats_url: str, *, quiet: bool) -> dict[str, Any]:
    nc = await connect(nats_url, settings, name="govchain-demo")
    client = LedgerClient(nc)
    root = data_dir.signing_key("root")
    keys = {dept: _department_key(data_dir, dept) for dept in DEPARTMENTS}
    committed: list[str] = []
    rejected: dict[str, str] = {}
    try:
        with Progress(console=err_console, transient=True, disable=quiet) as progress:
            steps = progress.add_task("demo scenario", total=5)

            async def submit(envelope: Envelope) -> dict[str, Any]:
                receipt = await client.submit(envelope)
                if receipt["status"] == "committed":
                    committed.append(envelope.id)
                else:
                    rejected[envelope.id] = receipt["reason"]
                return receipt

            # 1. The root authority admits the departments.
            for dept, name in DEPARTMENTS.items():
                await submit(make_event(
                    root, source=ev.ROOT, type="department.registered",
                    data={"department_id": dept, "name": name, "public_key": keys[dept].public.hex},
                ))
            progress.advance(steps)

            # 2. Departments register document hashes, published together so they share blocks.
            documents = [
                make_event(
                    keys[dept], source=dept, type="document.registered",
                    data={
                        "document_id": f"{dept}-{n}",
                        "sha256": hashlib.sha256(f"{dept} document {n}".encode()).hexdigest(),
                        "title": f"{DEPARTMENTS[dept]} record {n}",
                    },
                )
                for dept in DEPARTMENTS
                for n in range(DOCUMENTS_PER_DEPARTMENT)
            ]
            await asyncio.gather(*(submit(doc) for doc in documents))
            progress.advance(steps)

            # 3. Bad events: a forged signature, a key not on chain, an invalid payload.
            land = "land-bureau"
            genuine = make_event(keys[land], source=land, type="document.registered",
                                 data={"document_id": "forged", "sha256": "0" * 64, "title": "Forged deed"})
            forged = genuine.model_copy(update={"data": {**genuine.data, "title": "Altered deed"}})
            stranger = make_event(SigningKey.generate(), source=land, type="document.registered",
                                  data={"document_id": "x", "sha256": "1" * 64, "title": "Unknown signer"})
            invalid = make_event(keys[land], source=land, type="document.registered",
                                 data={"document_id": "no-hash", "title": "Missing hash"})
            for bad in (forged, stranger, invalid):
                await submit(bad)
            progress.advance(steps)

            # 4. A re-sent event is de-duplicated, never ordered twice.
            resend = documents[0]
            await client.publish(resend)
            await client.wait_receipt(resend.id, resend.source)
            progress.advance(steps)

            # 5. Verify the whole chain and one inclusion proof against the signed head.
            report = await verify_chain(nc.jetstream(), genesis_hash=settings.genesis_hash)
            answer = await client.inclusion_proof(documents[-1].id)
            proof_problem = inclusion_problem(answer, trusted_orderer_keys(settings))
            height = await last_height(nc.jetstream())
            progress.advance(steps)
    finally:
        await nc.drain()

    committed_unique = list(dict.fromkeys(committed))
    return {
        "ok": report.ok and proof_problem is None and len(committed_unique) == len(committed),
        "chain_id": (data_dir.genesis().data["chain_id"]),
        "blocks": height + 1,
        "events": report.events,
        "rejected": len(rejected),
        "rejection_reasons": sorted(set(rejected.values())),
        "duplicates_ordered": len(committed) - len(committed_unique),
        "proof_verified": proof_problem is None,
        "nats_url": nats_url,
        "data_dir": str(data_dir.root),
        "committed_event_ids": committed_unique,
    }
