"""NATS itself enforces least privilege: users generated from the chain by `govchain nats-config`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.credentials import read_credentials, write_nats_auth
from govchain.bus.embedded import EmbeddedNats
from govchain.bus.permissions import READ_STREAMS, SERVICE_USERS, Deployment, ledger_streams_api
from govchain.bus.stream_reader import read_batch
from govchain.bus.streams import ensure_streams
from govchain.bus.subjects import DEFAULT, ChainNames, inbox_prefix
from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.ledger.service import run_ledger

from .conftest import Ledger, ledger_settings

REFUSAL_TIMEOUT_S = 0.25
"""How long a refused call waits: no answer ever comes; `refused` then waits for the server's own
report of the violation, so a short wait never passes an allowed call for a refused one."""
READERS = sorted(set(SERVICE_USERS.values()) - {"ledger"})
"""Every service user that only reads the streams (the ledger alone manages them)."""


async def as_user(url: str, directory: Path, user: str, errors: list[str]) -> nats.aio.client.Client:
    name, password = read_credentials(directory, user)

    async def record(error: Exception) -> None:
        errors.append(str(error))

    # The inbox prefix `govchain.bus.connect` gives every authenticated client.
    return await nats.connect(url, user=name, password=password, error_cb=record, inbox_prefix=inbox_prefix(name))


async def refused(errors: list[str], subject: str, call: Awaitable[Any]) -> None:
    """``call`` got no answer *because* NATS refused its publish to ``subject``: the request
    times out and the server reports that very permissions violation (an unrelated timeout,
    or a refusal of some other subject, does not pass)."""
    expected = f'permissions violation for publish to "{subject}"'.lower()  # as nats-py reports it

    def reports() -> int:
        return sum(expected in e.lower() for e in errors)

    earlier = reports()
    with pytest.raises(NatsTimeout):
        await call
    deadline = time.monotonic() + 2
    while reports() == earlier:  # this very call was refused, not one before it
        assert time.monotonic() < deadline, f"no {expected!r} from the server; it reported {errors}"
        await asyncio.sleep(0.05)


def generate(data: DataDir, out: Path, *args: str) -> str:
    """Run `govchain nats-config` as an operator does; its standard output."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "govchain.services.cli",
            "nats-config",
            "--data",
            str(data.root),
            "--out",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


async def test_departments_publish_only_their_own_events_and_only_the_ledger_appends_blocks(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "node")
    data.init("locked-down")
    auth = tmp_path / "nats-auth"
    tax_key, land_key = SigningKey.generate(), SigningKey.generate()
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "govchain.services.cli",
            "nats-config",
            "--data",
            str(data.root),
            "--out",
            str(auth),
            "--offline",
            "--department",
            "tax",
            "--department",
            "land",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
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
            receipt = await GovChainClient(admin).submit(
                make_event(
                    data.signing_key("root"),
                    source=ev.ROOT,
                    type="department.registered",
                    data={"department_id": dept, "name": dept, "public_key": key.public.hex},
                )
            )
            assert receipt["status"] == "committed"

        errors: list[str] = []
        tax = await as_user(server.url, auth, "tax", errors)
        client = GovChainClient(tax)
        own = make_event(
            tax_key,
            source="tax",
            type="document.registered",
            data={"document_id": "t-1", "sha256": "a" * 64, "title": "Own record"},
        )
        assert (await client.submit(own))["status"] == "committed"  # publish + receipt query allowed

        impersonation = make_event(
            land_key,
            source="land",
            type="document.registered",
            data={"document_id": "l-1", "sha256": "b" * 64, "title": "Not ours"},
        )
        with pytest.raises((NoRespondersError, NatsTimeout)):
            await tax.jetstream().publish(
                subjects.event_subject("land", "document.registered"),
                impersonation.to_bytes(),
                timeout=REFUSAL_TIMEOUT_S,
            )
        forged_block = b'{"header": {}}'
        await tax.publish(subjects.BLOCKS_SUBJECT, forged_block)
        await tax.flush()
        await asyncio.sleep(0.3)
        assert any('permissions violation for publish to "gov.events.land.document.registered"' in e for e in errors)
        assert any('permissions violation for publish to "gov.blocks"' in e for e in errors)
        # No JetStream API for departments: refused by the server, not merely unanswered.
        await refused(
            errors,
            f"$JS.API.STREAM.INFO.{subjects.BLOCKS_STREAM}",
            tax.jetstream(timeout=REFUSAL_TIMEOUT_S).stream_info(subjects.BLOCKS_STREAM),
        )
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


async def test_readers_follow_blocks_but_cannot_touch_the_orderers_consumer(tmp_path: Path) -> None:
    """The orderer's durable consumer on EVENTS is the chain's intake: a read-only user (the
    analytics service here, every reader below) can neither delete, rewrite nor drain it, and
    still follows BLOCKS, and analytics REJECTED, the way the services do."""
    data = DataDir(tmp_path / "node")
    data.init("readers")
    auth = tmp_path / "nats-auth"
    generate(data, auth, "--offline", "--department", "tax", "--reader", "follower")
    server = EmbeddedNats(tmp_path / "nats", port=0, extra_config=(auth / "auth.conf").read_text()).start()
    user, password = read_credentials(auth, "ledger")
    settings = Settings(data_dir=data.root, nats_user=user, nats_password=password, batch_max_wait_ms=50)
    stop, ready = asyncio.Event(), asyncio.Event()
    ledger = asyncio.create_task(run_ledger(settings, server.url, stop, ready))
    connections: list[nats.aio.client.Client] = []
    try:
        await asyncio.wait_for(ready.wait(), 30)
        admin = await as_user(server.url, auth, "admin", [])
        connections.append(admin)
        tax_key = SigningKey.generate()
        assert (
            await GovChainClient(admin).submit(
                make_event(
                    data.signing_key("root"),
                    source=ev.ROOT,
                    type="department.registered",
                    data={"department_id": "tax", "name": "Tax", "public_key": tax_key.public.hex},
                )
            )
        )["status"] == "committed"
        forged = make_event(
            SigningKey.generate(),
            source="tax",
            type="document.registered",
            data={"document_id": "x-1", "sha256": "c" * 64, "title": "Unknown key"},
        )
        assert (await GovChainClient(admin).submit(forged))["status"] == "rejected"  # one refusal on REJECTED
        before = await admin.jetstream().consumer_info(subjects.EVENTS_STREAM, subjects.ORDERER_CONSUMER)

        errors: list[str] = []
        analytics = await as_user(server.url, auth, "analytics", errors)
        connections.append(analytics)
        js = analytics.jetstream()
        # Following: direct gets on BLOCKS (every projection) and REJECTED (refusal tally).
        top = await last_height(js)
        assert top == 1  # genesis, the department; nothing for the refused event
        heights = [h async for h, _ in follow_blocks(js, 0, to_height=top)]
        assert heights == [0, 1]
        [refusal] = await read_batch(js, subjects.REJECTED_STREAM, 1)
        assert forged.id in refusal.subject
        assert errors == []

        # The orderer's consumer: not deleted, not rewritten through a create request that names
        # it in its body, not created anew, not read, not drained.
        short = analytics.jetstream(timeout=REFUSAL_TIMEOUT_S)
        events, orderer = subjects.EVENTS_STREAM, subjects.ORDERER_CONSUMER
        await refused(errors, f"$JS.API.CONSUMER.DELETE.{events}.{orderer}", short.delete_consumer(events, orderer))
        rewrite = json.dumps(
            {
                "stream_name": events,
                "config": {"name": orderer, "ack_policy": "explicit", "filter_subject": "gov.events.nobody.>"},
            }
        ).encode()
        await refused(
            errors,
            f"$JS.API.CONSUMER.CREATE.{events}",
            analytics.request(f"$JS.API.CONSUMER.CREATE.{events}", rewrite, timeout=REFUSAL_TIMEOUT_S),
        )
        await refused(
            errors,
            f"$JS.API.CONSUMER.CREATE.{events}.{orderer}.gov.events.>",
            short.add_consumer(
                events, ConsumerConfig(name=orderer, filter_subject="gov.events.>", ack_policy=AckPolicy.EXPLICIT)
            ),
        )
        await refused(
            errors,
            f"$JS.API.CONSUMER.DURABLE.CREATE.{events}.{orderer}",
            analytics.request(
                f"$JS.API.CONSUMER.DURABLE.CREATE.{events}.{orderer}", rewrite, timeout=REFUSAL_TIMEOUT_S
            ),
        )
        await refused(errors, f"$JS.API.CONSUMER.INFO.{events}.{orderer}", short.consumer_info(events, orderer))
        await refused(
            errors,
            f"$JS.API.CONSUMER.MSG.NEXT.{events}.{orderer}",
            analytics.request(
                f"$JS.API.CONSUMER.MSG.NEXT.{events}.{orderer}", b'{"batch": 1}', timeout=REFUSAL_TIMEOUT_S
            ),
        )
        # Nor the streams themselves.
        await refused(
            errors, f"$JS.API.STREAM.PURGE.{subjects.BLOCKS_STREAM}", short.purge_stream(subjects.BLOCKS_STREAM)
        )
        await refused(errors, f"$JS.API.STREAM.INFO.{events}", short.stream_info(events))

        # Every other reader likewise; only analytics reads REJECTED.
        readers: dict[str, nats.aio.client.Client] = {}
        for reader in [r for r in READERS if r != "analytics"]:
            reader_errors: list[str] = []
            readers[reader] = nc = await as_user(server.url, auth, reader, reader_errors)
            connections.append(nc)
            assert [h async for h, _ in follow_blocks(nc.jetstream(), 0, to_height=top)] == [0, 1], reader
            short = nc.jetstream(timeout=REFUSAL_TIMEOUT_S)
            await refused(
                reader_errors, f"$JS.API.CONSUMER.DELETE.{events}.{orderer}", short.delete_consumer(events, orderer)
            )
            await refused(
                reader_errors,
                f"$JS.API.CONSUMER.CREATE.{events}",
                nc.request(f"$JS.API.CONSUMER.CREATE.{events}", rewrite, timeout=REFUSAL_TIMEOUT_S),
            )
            for stream in (subjects.REJECTED_STREAM, subjects.BLOCKS_STREAM):  # readers create no consumers at all
                await refused(
                    reader_errors,
                    f"$JS.API.CONSUMER.CREATE.{stream}",
                    short.subscribe(">", stream=stream, ordered_consumer=True),
                )
        # A downstream system's reader user (`nats-config --reader`): follows the three streams
        # and asks the ledger; publishes no event, asks no other service, creates no consumer.
        follower_errors: list[str] = []
        follower = await as_user(server.url, auth, "follower", follower_errors)
        connections.append(follower)
        assert [h async for h, _ in follow_blocks(follower.jetstream(), 0, to_height=top)] == [0, 1]
        [seen] = await read_batch(follower.jetstream(), subjects.REJECTED_STREAM, 1)
        assert forged.id in seen.subject
        assert (await follower.jetstream().stream_info(subjects.CHECKPOINTS_STREAM)).config.name == "CHECKPOINTS"
        assert (await GovChainClient(follower).head())["header"]["height"] == top
        short = follower.jetstream(timeout=REFUSAL_TIMEOUT_S)
        await refused(
            follower_errors,
            "gov.events.tax.document.registered",
            follower.request("gov.events.tax.document.registered", forged.to_bytes(), timeout=REFUSAL_TIMEOUT_S),
        )
        await refused(
            follower_errors,
            subjects.IDENTITY_RESOLVE,
            follower.request(subjects.IDENTITY_RESOLVE, b"{}", timeout=REFUSAL_TIMEOUT_S),
        )
        await refused(
            follower_errors,
            f"$JS.API.CONSUMER.CREATE.{subjects.BLOCKS_STREAM}",
            short.subscribe(">", stream=subjects.BLOCKS_STREAM, ordered_consumer=True),
        )
        await refused(follower_errors, f"$JS.API.STREAM.INFO.{events}", short.stream_info(events))
        # The gateway shows a block by a direct get.
        block = (
            await readers["gateway"]
            .jetstream()
            .get_msg(subjects.BLOCKS_STREAM, subjects.block_sequence(1), direct=True)
        )
        assert block.data

        after = await admin.jetstream().consumer_info(events, orderer)
        assert after.config == before.config  # the intake consumer is as the orderer made it
        own = make_event(
            tax_key,
            source="tax",
            type="document.registered",
            data={"document_id": "t-9", "sha256": "d" * 64, "title": "Still ordered"},
        )
        assert (await GovChainClient(admin).submit(own))["status"] == "committed"
    finally:
        for nc in connections:
            await nc.close()
        stop.set()
        await asyncio.wait_for(ledger, 30)
        server.stop()


async def test_nats_config_reads_the_departments_on_chain(ledger: Ledger, tmp_path: Path) -> None:
    """Without --offline, nats-config asks the running platform who is on chain: a department
    registered there gets a user that may publish its own events and nothing else."""
    await ledger.register_department("water")
    auth = tmp_path / "nats-auth"
    printed = generate(ledger.data, auth, "--nats-url", ledger.nats_url)
    assert "credentials for" in printed

    text = (auth / "auth.conf").read_text()  # nats-config writes the users as JSON, which NATS reads
    listed = json.loads(text[text.index("users: ") + len("users: ") : text.rindex("}")])
    users = {entry["user"]: entry for entry in listed}
    assert "water" in users, f"the department on chain got no user; users: {sorted(users)}"
    assert "land" not in users  # nobody registered it
    assert set(SERVICE_USERS.values()) <= set(users)  # and the services of genesis are there
    assert (auth / "credentials" / "water.env").stat().st_mode & 0o777 == 0o600
    assert read_credentials(auth, "water")[0] == "water"

    water = users["water"]["permissions"]
    publish = water["publish"]["allow"]
    assert [s for s in publish if s.startswith("gov.events.")] == ["gov.events.water.>"]
    assert not [
        s
        for s in publish
        if s.startswith("$") or s.startswith("_") or s.startswith("gov.blocks") or s.startswith("gov.rejected")
    ], publish  # no JetStream API, no blocks, no refusals
    assert not [s for s in publish if s == ">" or s.endswith(".*") and s.count(".") < 2]
    assert water["subscribe"]["allow"] == ["_INBOX.water.>"]  # its own replies only
    assert "deny" not in water["publish"] and not water.get("allow_responses")
    assert not set(READ_STREAMS) & set(publish)

    # And a server given this configuration holds the department to it.
    server = EmbeddedNats(tmp_path / "nats-locked", port=0, extra_config=text).start()
    errors: list[str] = []
    try:
        nc = await as_user(server.url, auth, "water", errors)
        await nc.publish("gov.events.water.document.registered", b"{}")
        await nc.publish("gov.events.tax.document.registered", b"{}")
        await nc.flush()
        await refused(
            errors,
            "$JS.API.STREAM.INFO.EVENTS",
            nc.jetstream(timeout=REFUSAL_TIMEOUT_S).stream_info(subjects.EVENTS_STREAM),
        )
        assert [e for e in errors if "violation" in e] == [
            'nats: permissions violation for publish to "gov.events.tax.document.registered"',
            'nats: permissions violation for publish to "$js.api.stream.info.events"',
        ]
        await nc.close()
    finally:
        server.stop()


async def test_no_user_can_read_another_users_replies(tmp_path: Path) -> None:
    # Replies carry answers about people (a citizen's own record, an access log): a department
    # listening on every inbox would see them all.
    data = DataDir(tmp_path / "node")
    data.init("private-replies")
    auth = tmp_path / "nats-auth"
    generate(data, auth, "--offline", "--department", "tax", "--department", "land")
    server = EmbeddedNats(tmp_path / "nats", port=0, extra_config=(auth / "auth.conf").read_text()).start()
    try:
        errors: list[str] = []
        tax = await as_user(server.url, auth, "tax", errors)
        land = await as_user(server.url, auth, "land", [])
        registry = await as_user(server.url, auth, "registry", [])

        async def answer(msg: Any) -> None:
            await msg.respond(b"personal answer")

        await registry.subscribe(subjects.REGISTRY_ACCESS_LOG, cb=answer)
        await registry.flush()
        overheard: list[bytes] = []

        async def eavesdrop(msg: Any) -> None:
            overheard.append(msg.data)

        await tax.subscribe("_INBOX.>", cb=eavesdrop)
        await tax.subscribe(inbox_prefix("land") + ".>", cb=eavesdrop)
        await tax.flush()
        reply = await land.request(subjects.REGISTRY_ACCESS_LOG, b"{}", timeout=5)  # land still gets its answer
        assert reply.data == b"personal answer"
        await asyncio.sleep(0.3)
        assert overheard == []
        violations = [e for e in errors if "violation" in e]
        assert violations == [
            'nats: permissions violation for subscription to "_inbox.>"',
            'nats: permissions violation for subscription to "_inbox.land.>"',
        ]
        for nc in (tax, land, registry):
            await nc.close()
    finally:
        server.stop()


async def test_a_reader_cannot_make_the_server_deliver_blocks_to_another_services_subject(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "node")
    data.init("deliver-subject")
    auth = tmp_path / "nats-auth"
    generate(data, auth, "--offline")
    server = EmbeddedNats(tmp_path / "nats", port=0, extra_config=(auth / "auth.conf").read_text()).start()
    try:
        admin = await as_user(server.url, auth, "admin", [])
        await ensure_streams(admin.jetstream())
        await admin.jetstream().publish(subjects.BLOCKS_SUBJECT, b"block")
        identity = await as_user(server.url, auth, "identity", [])
        seen: list[str] = []

        async def handler(msg: Any) -> None:
            seen.append(msg.subject)

        await identity.subscribe(subjects.IDENTITY_RESOLVE, cb=handler)  # as the identity service answers
        await identity.flush()
        analytics = await as_user(server.url, auth, "analytics", [])
        body = {
            "stream_name": subjects.BLOCKS_STREAM,
            "config": {"ack_policy": "none", "deliver_subject": subjects.IDENTITY_RESOLVE},
        }
        for target in (
            subjects.IDENTITY_RESOLVE,
            subjects.LEDGER_RECEIPT,
            "gov.events.tax.document.registered",
            "_INBOX.gateway.x",
            subjects.BLOCKS_SUBJECT,
        ):
            body["config"]["deliver_subject"] = target
            for api in (
                f"$JS.API.CONSUMER.CREATE.{subjects.BLOCKS_STREAM}",
                f"$JS.API.CONSUMER.CREATE.{subjects.BLOCKS_STREAM}.sneaky",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{subjects.BLOCKS_STREAM}.sneaky",
            ):
                with pytest.raises((NatsTimeout, NoRespondersError)):  # refused: never reaches JetStream
                    await analytics.request(api, json.dumps(body).encode(), timeout=REFUSAL_TIMEOUT_S)
        await asyncio.sleep(1)
        assert seen == [], "a reader's consumer pushed blocks onto the identity service's request subject"
        # What readers do instead works: direct gets answered on their own inbox.
        assert [h async for h, _ in follow_blocks(analytics.jetstream(), 0, to_height=0)] == [0]
        for nc in (analytics, identity, admin):
            await nc.close()
    finally:
        server.stop()


def test_a_ledgers_jetstream_rights_name_only_its_own_chains_streams_and_lease() -> None:
    """No wildcard over the JetStream API: each right names one of the chain's own streams, its
    orderer's consumer, or the chain's own lease bucket (written at its lease key only)."""
    reads = [
        f"$JS.API.{call}.{stream}{tail}"
        for stream in ("BLOCKS_east", "REJECTED_east", "CHECKPOINTS_east")
        for call, tail in (("STREAM.INFO", ""), ("STREAM.MSG.GET", ""), ("DIRECT.GET", ""), ("DIRECT.GET", ".>"))
    ]
    east = ledger_streams_api(ChainNames("east"))
    assert east == [
        "$JS.API.INFO",
        *reads,
        "$JS.API.STREAM.INFO.EVENTS_east",
        "$JS.API.STREAM.CREATE.EVENTS_east",
        "$JS.API.STREAM.CREATE.BLOCKS_east",
        "$JS.API.STREAM.CREATE.REJECTED_east",
        "$JS.API.STREAM.CREATE.CHECKPOINTS_east",
        "$JS.API.CONSUMER.INFO.EVENTS_east.ledger-orderer",
        "$JS.API.CONSUMER.CREATE.EVENTS_east.ledger-orderer",
        "$JS.API.CONSUMER.CREATE.EVENTS_east.ledger-orderer.>",
        "$JS.API.CONSUMER.DURABLE.CREATE.EVENTS_east.ledger-orderer",
        "$JS.API.CONSUMER.MSG.NEXT.EVENTS_east.ledger-orderer",
        "$JS.ACK.EVENTS_east.ledger-orderer.>",
        "$JS.API.STREAM.INFO.KV_govchain_leases_east",
        "$JS.API.STREAM.CREATE.KV_govchain_leases_east",
        "$JS.API.STREAM.MSG.GET.KV_govchain_leases_east",
        "$JS.API.DIRECT.GET.KV_govchain_leases_east.$KV.govchain_leases_east.orderer-east",
        "$KV.govchain_leases_east.orderer-east",
    ]
    # The default chain's ledger: the same rights on its own names (EVENTS, BLOCKS, …; lease key "orderer").
    assert ledger_streams_api(DEFAULT) == [r.replace("_east", "").replace("orderer-east", "orderer") for r in east]


async def test_a_chains_ledger_manages_only_its_own_streams_consumer_and_lease(tmp_path: Path) -> None:
    """Chains east and west (and the default chain's users) on one server: ``ledger@east`` orders
    east, and NATS itself refuses it west's and the default chain's streams (create, update,
    delete, purge), west's intake consumer, west's lease bucket, and any change to its own streams
    beyond creating them."""
    auth = tmp_path / "nats-auth"
    east, west = ChainNames("east"), ChainNames("west")
    for names in (DEFAULT, east, west):  # as `GOVCHAIN_CHAIN=<id> govchain nats-config` into one folder
        write_nats_auth(auth, Deployment(), names)
    server = EmbeddedNats(tmp_path / "nats", port=0, extra_config=(auth / "auth.conf").read_text()).start()
    admin = await as_user(server.url, auth, "admin", [])
    chains: dict[ChainNames, Ledger] = {}
    connections = [admin]
    try:
        for names in (east, west):
            assert names.chain is not None
            data = DataDir(tmp_path / names.chain)
            data.init(names.chain)
            user, password = read_credentials(auth, names.user("ledger"))
            settings = ledger_settings(data.root, chain=names.chain, nats_user=user, nats_password=password)
            chains[names] = Ledger(settings, data, server.url, admin, GovChainClient(admin, names=names))
            await chains[names].start()  # streams, consumer, lease: each ledger under its own rights
        for ledger in chains.values():
            await ledger.register_department("tax")
            assert (await ledger.submit(ledger.document("tax", 1)))["status"] == "committed"
        ajs = admin.jetstream()
        west_blocks = (await ajs.stream_info(west.blocks_stream)).state.messages
        west_consumer = await ajs.consumer_info(west.events_stream, subjects.ORDERER_CONSUMER)
        leases = await ajs.key_value(west.lease_bucket)
        west_lease = await leases.get(west.orderer_lease)
        assert west_lease.value == chains[west].settings.instance_id.encode()

        errors: list[str] = []
        ledger = await as_user(server.url, auth, east.user("ledger"), errors)
        connections.append(ledger)
        short = ledger.jetstream(timeout=REFUSAL_TIMEOUT_S)
        # Its own work, as the service does it.
        assert (await short.stream_info(east.blocks_stream)).state.messages == 3
        assert (await short.consumer_info(east.events_stream, subjects.ORDERER_CONSUMER)).name == "ledger-orderer"
        own_leases = await short.key_value(east.lease_bucket)
        assert (await own_leases.get(east.orderer_lease)).value == chains[east].settings.instance_id.encode()
        assert errors == []

        api = "$JS.API"
        for blocks, names in ((west.blocks_stream, west), (DEFAULT.blocks_stream, DEFAULT)):
            config = StreamConfig(name=blocks, subjects=[names.blocks_subject])
            await refused(errors, f"{api}.STREAM.CREATE.{blocks}", short.add_stream(config))
            await refused(errors, f"{api}.STREAM.UPDATE.{blocks}", short.update_stream(config))
            await refused(errors, f"{api}.STREAM.DELETE.{blocks}", short.delete_stream(blocks))
            await refused(errors, f"{api}.STREAM.PURGE.{blocks}", short.purge_stream(blocks))
        events, orderer = west.events_stream, subjects.ORDERER_CONSUMER
        await refused(
            errors,
            f"{api}.CONSUMER.CREATE.{events}.{orderer}.{west.events_subjects}",
            short.add_consumer(
                events, ConsumerConfig(name=orderer, filter_subject=west.events_subjects, ack_policy=AckPolicy.EXPLICIT)
            ),
        )
        await refused(
            errors, f"{api}.CONSUMER.CREATE.{events}", ledger.request(f"{api}.CONSUMER.CREATE.{events}", b"{}", 1)
        )
        await refused(errors, f"{api}.CONSUMER.DELETE.{events}.{orderer}", short.delete_consumer(events, orderer))
        next_west = f"{api}.CONSUMER.MSG.NEXT.{events}.{orderer}"
        await refused(errors, next_west, ledger.request(next_west, b'{"batch": 1}', timeout=REFUSAL_TIMEOUT_S))
        # West's lease: its bucket is west's alone, neither read, written, purged nor deleted; nor
        # may east's ledger write another key of its own bucket, or purge or delete it.
        west_bucket = f"KV_{west.lease_bucket}"
        await refused(errors, f"{api}.STREAM.INFO.{west_bucket}", short.key_value(west.lease_bucket))
        west_key = f"$KV.{west.lease_bucket}.{west.orderer_lease}"
        await refused(errors, west_key, short.publish(west_key, b"ledger@east"))
        await refused(errors, f"{api}.STREAM.PURGE.{west_bucket}", short.purge_stream(west_bucket))
        await refused(errors, f"{api}.STREAM.DELETE.{west_bucket}", short.delete_stream(west_bucket))
        other_key = f"$KV.{east.lease_bucket}.{west.orderer_lease}"
        await refused(errors, other_key, own_leases.put(west.orderer_lease, b"ledger@east"))
        own_bucket = f"KV_{east.lease_bucket}"
        await refused(errors, f"{api}.STREAM.PURGE.{own_bucket}", short.purge_stream(own_bucket))
        await refused(errors, f"{api}.STREAM.DELETE.{own_bucket}", short.delete_stream(own_bucket))
        # Its own streams and consumer: made once, never changed, deleted or purged.
        own = east.blocks_stream
        await refused(
            errors,
            f"{api}.STREAM.UPDATE.{own}",
            short.update_stream(StreamConfig(name=own, subjects=[east.blocks_subject])),
        )
        await refused(errors, f"{api}.STREAM.PURGE.{east.events_stream}", short.purge_stream(east.events_stream))
        await refused(errors, f"{api}.STREAM.DELETE.{own}", short.delete_stream(own))
        await refused(
            errors,
            f"{api}.CONSUMER.DELETE.{east.events_stream}.{orderer}",
            short.delete_consumer(east.events_stream, orderer),
        )

        # Nothing of west changed, and east still orders.
        assert (await ajs.stream_info(west.blocks_stream)).state.messages == west_blocks
        assert (await ajs.consumer_info(events, orderer)).config == west_consumer.config
        assert (await leases.get(west.orderer_lease)).value == west_lease.value
        for ledger_of in chains.values():
            assert (await ledger_of.submit(ledger_of.document("tax", 2)))["status"] == "committed"
    finally:
        for ledger_of in chains.values():
            await ledger_of.shutdown()
        for nc in connections:
            await nc.close()
        server.stop()
