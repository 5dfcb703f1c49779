"""NATS itself enforces least privilege: users generated from the chain by `govchain nats-config`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from govchain.bus import subjects
from govchain.bus.credentials import read_credentials
from govchain.bus.embedded import EmbeddedNats
from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.ledger.service import run_ledger


async def as_user(url: str, directory: Path, user: str, errors: list[str]) -> nats.aio.client.Client:
    name, password = read_credentials(directory, user)

    async def record(error: Exception) -> None:
        errors.append(str(error))

    return await nats.connect(url, user=name, password=password, error_cb=record)


async def test_departments_publish_only_their_own_events_and_only_the_ledger_appends_blocks(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "node")
    data.init("locked-down")
    auth = tmp_path / "nats-auth"
    tax_key, land_key = SigningKey.generate(), SigningKey.generate()
    generated = subprocess.run(
        [sys.executable, "-m", "govchain.services.cli", "nats-config", "--data", str(data.root), "--out", str(auth),
         "--offline", "--department", "tax", "--department", "land"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert "credentials for" in generated.stdout
    assert (auth / "credentials" / "tax.env").stat().st_mode & 0o777 == 0o600
    server = EmbeddedNats(tmp_path / "nats", port=0, extra_config=(auth / "auth.conf").read_text()).start()
    user, password = read_credentials(auth, "ledger")
    settings = Settings(data_dir=data.root, nats_user=user, nats_password=password, batch_max_wait_ms=50)
    stop, ready = asyncio.Event(), asyncio.Event()
    ledger = asyncio.create_task(run_ledger(settings, server.url, stop, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        admin_errors: list[str] = []
        admin = await as_user(server.url, auth, "admin", admin_errors)
        for dept, key in (("tax", tax_key), ("land", land_key)):
            receipt = await GovChainClient(admin).submit(make_event(
                data.signing_key("root"), source=ev.ROOT, type="department.registered",
                data={"department_id": dept, "name": dept, "public_key": key.public.hex}))
            assert receipt["status"] == "committed"

        errors: list[str] = []
        tax = await as_user(server.url, auth, "tax", errors)
        client = GovChainClient(tax)
        own = make_event(tax_key, source="tax", type="document.registered",
                         data={"document_id": "t-1", "sha256": "a" * 64, "title": "Own record"})
        assert (await client.submit(own))["status"] == "committed"  # publish + receipt query allowed

        impersonation = make_event(land_key, source="land", type="document.registered",
                                   data={"document_id": "l-1", "sha256": "b" * 64, "title": "Not ours"})
        with pytest.raises((NoRespondersError, NatsTimeout)):
            await tax.jetstream().publish(subjects.event_subject("land", "document.registered"),
                                          impersonation.to_bytes(), timeout=2)
        forged_block = b'{"header": {}}'
        await tax.publish(subjects.BLOCKS_SUBJECT, forged_block)
        await tax.flush()
        await asyncio.sleep(0.3)
        assert any('permissions violation for publish to "gov.events.land.document.registered"' in e for e in errors)
        assert any('permissions violation for publish to "gov.blocks"' in e for e in errors)
        with pytest.raises(Exception):
            await tax.jetstream().stream_info(subjects.BLOCKS_STREAM, )  # no JetStream API for departments
        receipt = await GovChainClient(admin).receipt(impersonation.id, "land")
        assert receipt["status"] == "pending"  # it never reached the intake stream
        blocks = await admin.jetstream().stream_info(subjects.BLOCKS_STREAM)
        assert blocks.state.messages == 4  # genesis, two departments, the tax record: nothing forged
        await tax.close()
        await admin.close()
    finally:
        stop.set()
        await asyncio.wait_for(ledger, 30)
        server.stop()
