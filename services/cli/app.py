"""The ``govchain`` command line: run a node, publish signed events, follow and verify the chain."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import uuid
from pathlib import Path
from typing import Any

import typer
from nats.aio.client import Client
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from govchain.audit import chain_state, verify_chain
from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.credentials import write_nats_auth
from govchain.bus.permissions import Deployment
from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.crypto import DEFAULT_SUITE, SUITE_NAMES, CryptoError, suite_by_name
from govchain.datadir import DataDir
from govchain.logs import configure_logging
from govchain.privatefiles import use_private_umask
from govchain.projection.progress import catch_up_display, set_catch_up_reporter
from govchain.protocol.block import Block
from govchain.protocol.errors import GovChainError
from govchain.protocol.eventref import event_ref, parse_event_ref
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.jsontext import parse_json_object
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.policy import EventTimeRule
from govchain.protocol.proofs import inclusion_problem
from govchain.runtime import settle_process
from govchain.services.cli.anchor import anchor
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    emit,
    err_console,
    fail,
    run,
    settings_from,
    sign_and_submit,
    sign_and_submit_batch,
    trusted_orderer_keys,
    with_connection,
)
from govchain.services.cli.contract import audit_app, contract_app
from govchain.services.cli.custody import custody_app
from govchain.services.cli.identity import credential_app, did_app, identity_app
from govchain.services.cli.registry import registry_app
from govchain.services.cli.report import report
from govchain.services.cli.sharing import sharing_app
from govchain.services.cli.vault import vault_app
from govchain.services.cli.witness import (
    WitnessedCheck,
    check_pinned,
    check_witnessed,
    log_app,
    published_checkpoint,
    published_checkpoints,
    verify_chain_at,
    witness_app,
    witnessed_checks,
)
from govchain.transparency.checkpoint import Tree

app = typer.Typer(
    name="govchain",
    help=(
        "GovChain: a permissioned, verifiable event ledger for government departments.\n\n"
        "Start a node with `govchain up` (it creates keys and genesis on first run), publish "
        "signed events with `govchain publish`, and check everything with `govchain verify`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


app.add_typer(did_app, name="did")
app.add_typer(credential_app, name="credential")
app.add_typer(identity_app, name="identity")
app.add_typer(registry_app, name="registry")
app.add_typer(sharing_app, name="sharing")
app.add_typer(contract_app, name="contract")
app.add_typer(audit_app, name="audit")
app.add_typer(vault_app, name="vault")
app.add_typer(custody_app, name="custody")
app.add_typer(witness_app, name="witness")
log_app.command("anchor")(anchor)
app.add_typer(log_app, name="log")
app.command("report")(report)


def main() -> None:
    use_private_umask()  # every file this process and its children (nats-server, SQLite) make is 0600/0700
    app()


@app.callback()
def _configure(
    log_level: str = typer.Option("INFO", envvar="GOVCHAIN_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR."),
    log_format: str = typer.Option(
        "console", envvar="GOVCHAIN_LOG_FORMAT", help="console (readable) or json (one object per line)."
    ),
) -> None:
    """Logs go to stderr, so --json output on stdout stays clean."""
    configure_logging(log_level, log_format)


def _new_chain_id(settings: Settings) -> str:
    """The id of a chain made without ``--chain-id``: the one ``GOVCHAIN_CHAIN`` names (its
    services refuse any other genesis), else a random one."""
    return settings.chain or f"govchain-{uuid.uuid4().hex[:8]}"


@app.command()
def init(
    data: Path = DATA_OPTION,
    chain_id: str = typer.Option(
        None, help="Chain id (lowercase letters, digits, - and _). Default: GOVCHAIN_CHAIN if set, else random."
    ),
    exist_ok: bool = typer.Option(
        False, "--exist-ok", help="Succeed without change if the folder already holds a chain."
    ),
    max_event_ahead_s: int = typer.Option(
        300,
        "--max-event-ahead",
        min=0,
        max=86_400,
        help="Seconds an event's time may lie after the time of the block that orders it. Fixed in genesis.",
    ),
    max_event_behind_s: int = typer.Option(
        300,
        "--max-event-behind",
        min=0,
        max=31 * 86_400,
        help="Seconds an event's time may lie before its block's time (publishers that sign offline need more). "
        "Fixed in genesis.",
    ),
    crypto: str = typer.Option(
        "intl",
        "--crypto",
        help="Crypto profile, fixed in genesis: intl (SHA-256, Ed25519, AES-GCM) or gm "
        "(国密: SM3, SM2, SM4-GCM). See docs/crypto-profiles.md.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a new chain: root authority key, orderer key and the signed genesis event.

    The genesis policy fixes how far an event's time may stray from its block's time; events
    outside that window are refused as invalid_time."""
    if crypto not in SUITE_NAMES:
        raise typer.BadParameter(f"--crypto is one of {', '.join(SUITE_NAMES)}, not {crypto!r}")
    settings = settings_from(data)
    chain = chain_id or _new_chain_id(settings)
    try:
        if exist_ok and DataDir(settings.data_dir).is_initialised():
            settings.chain_names.require(DataDir(settings.data_dir).genesis().data["chain_id"])
            typer.echo(f"{settings.data_dir} already holds a chain; nothing to do")
            return
        settings.chain_names.require(chain)  # a chain its own services would refuse to serve
        window = EventTimeRule(max_ahead_s=max_event_ahead_s, max_behind_s=max_event_behind_s)
        info = DataDir(settings.data_dir).init(chain, event_time=window, crypto=crypto)
    except (GovChainError, CryptoError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    emit(
        {**info, "data_dir": str(settings.data_dir)},
        as_json,
        f"initialised chain {info['chain_id']} in {settings.data_dir}\n"
        f"  crypto profile: {info['crypto']}\n"
        f"  genesis hash:   {info['genesis_hash']}  (pin it: GOVCHAIN_GENESIS_HASH)\n"
        f"  root key id:    {info['root_key_id']}\n"
        f"  orderer key id: {info['orderer_key_id']}",
    )


@app.command()
def up(
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    nats_port: int = typer.Option(
        None, help="Preferred port of the embedded NATS server (a free one is used if taken)."
    ),
) -> None:
    """Run the platform: embedded NATS with JetStream (unless --nats-url) and every service, until Ctrl-C."""
    settings = settings_from(data, nats_url, nats_port=nats_port)
    data_dir = DataDir(settings.data_dir)
    if not data_dir.is_initialised():
        info = data_dir.init(_new_chain_id(settings))
        err_console.print(f"initialised a new chain {info['chain_id']} in {settings.data_dir}")
    data_dir.make_private()  # a folder made by an older version had 0644 databases in 0755 folders

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        # A projection replaying from its checkpoint shows a bar on a terminal, log lines elsewhere.
        set_catch_up_reporter(catch_up_display(err_console))

        def announce(url: str) -> None:
            portal = (data_dir.run_info() or {}).get("gateway_url", "?")
            err_console.print(
                f"[bold green]GovChain is up.[/] Portal: {portal}   API docs: {portal}/docs\n"
                f"NATS: {url}   data: {settings.data_dir}\nPress Ctrl-C to stop."
            )

        from govchain.services.platform import run_platform  # every service: loaded only to run them

        await run_platform(settings, stop, on_ready=announce)

    settle_process(settings)
    run(serve())


@app.command()
def serve(
    service: str = typer.Argument(
        ..., help="The service to run: ledger, identity, registry, contract, analytics or gateway."
    ),
    data: Path = DATA_OPTION,
    nats_url: str = typer.Option(
        ..., "--nats-url", envvar="GOVCHAIN_NATS_URL", help="The NATS server (required: a deployment runs its own)."
    ),
) -> None:
    """Run one service against an external NATS server (one container per service in a deployment)."""
    from govchain.services.platform import SERVICES  # every service: loaded only to run one

    settings = settings_from(data, nats_url)
    runners = dict(SERVICES)
    if service not in runners:
        err_console.print(f"[bold red]error:[/] unknown service {service!r}; choose from {', '.join(runners)}")
        raise typer.Exit(2)
    DataDir(settings.data_dir).make_private()

    async def serve_one() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        set_catch_up_reporter(catch_up_display(err_console))
        await runners[service](settings, nats_url, stop)

    settle_process(settings)
    run(serve_one())


@app.command()
def status(
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the newest signed block head; exits non-zero if the ledger does not answer (a health check)."""
    settings = settings_from(data, nats_url)

    async def ask(nc: Client) -> dict[str, Any]:
        return await GovChainClient(nc, names=settings.chain_names).head()

    head = run(with_connection(settings, ask))
    header = head["header"]
    emit(
        {"height": header["height"], "log_size": header["log_size"], "hash": head["hash"], "time": header["time"]},
        as_json,
        f"chain {header['chain_id']}: height {header['height']}, {header['log_size']} events, head {head['hash']}",
    )


@app.command("nats-config")
def nats_config(
    out: Path = typer.Option(Path("infra/nats"), help="Where auth.conf and credentials/<user>.env are written."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    offline: bool = typer.Option(False, help="Do not read the chain: only genesis services and --department ids."),
    department: list[str] = typer.Option([], help="Also make a user for this department (repeatable)."),
    reader: list[str] = typer.Option(
        [],
        help="Also make a read-only user for a downstream system (repeatable): it follows BLOCKS, REJECTED "
        "and CHECKPOINTS and asks the ledger for proofs, and must connect with inbox prefix _INBOX.<name>.",
    ),
) -> None:
    """Generate least-privilege NATS users (a department publishes only on gov.events.<its id>.>,
    only the ledger publishes blocks, a reader only reads) from the principals on chain; reload
    nats-server after."""
    settings = settings_from(data, nats_url)
    genesis = genesis_payload(DataDir(settings.data_dir).genesis())
    for name in reader:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
            raise typer.BadParameter(f"{name!r}: lowercase letters, digits, - and _", param_hint="--reader")
    deployment = Deployment(services=set(genesis.services), departments=set(department), readers=set(reader))

    async def from_chain(nc: Client) -> None:
        state = await chain_state(nc.jetstream(), names=settings.chain_names)
        deployment.services |= {p.id for p in state.principals.values() if p.kind == "service"}
        deployment.departments |= {p.id for p in state.principals.values() if p.kind == "department"}

    if not offline:
        run(with_connection(settings, from_chain))
    try:
        users = write_nats_auth(out, deployment, settings.chain_names)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"wrote {out / 'auth.conf'} and credentials for {len(users)} users in {out / 'credentials'} (mode 0600)")
    typer.echo("include auth.conf in the NATS configuration and reload it: nats-server --signal reload")


@app.command()
def keygen(
    out: Path = typer.Argument(..., help="Where to write the private key (PEM, mode 0600; never overwritten)."),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Print only the public key (hex), for scripts: TAX_KEY=$(govchain keygen keys/tax.pem -q).",
    ),
    crypto: str = typer.Option(
        None,
        "--crypto",
        help="intl (Ed25519) or gm (SM2). Default: the profile of the chain in --data, else intl.",
    ),
    data: Path = DATA_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a signing key for a department or official (folders in OUT are created): Ed25519
    on an intl chain, SM2 on a gm chain."""
    if quiet and as_json:
        raise typer.BadParameter("--quiet prints the public key alone; --json prints an object: choose one")
    if crypto is not None and crypto not in SUITE_NAMES:
        raise typer.BadParameter(f"--crypto is one of {', '.join(SUITE_NAMES)}, not {crypto!r}")
    folder = DataDir(settings_from(data).data_dir)
    if crypto is not None:
        suite = suite_by_name(crypto)
    elif folder.is_initialised():
        suite = folder.crypto_suite()
    else:
        suite = suite_by_name(DEFAULT_SUITE)
    key = SigningKey.generate(suite)
    try:
        key.save(out)
    except GovChainError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if quiet:
        typer.echo(key.public.hex)
        return
    emit(
        {"key_file": str(out), "key_id": key.key_id, "public_key": key.public.hex},
        as_json,
        f"wrote {out}\n  key id:     {key.key_id}\n  public key: {key.public.hex}",
    )


@app.command()
def publish(
    event_file: Path = typer.Argument(
        ..., help='JSON file: {"source": dept, "type": ..., "data": {...}} (optional "id", "subject", "schemaversion").'
    ),
    key: Path = typer.Option(..., "--key", "-k", help="The signer's private key (PEM)."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    timeout: float = typer.Option(30.0, help="Seconds to wait for the receipt."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign an event with KEY, publish it, and print its receipt: block and position, or why it was rejected.

    Each run signs a new event, stamped with the current time. Without an "id" in the file a new
    one is made each time; with one, running the command again publishes another event under a
    used id: the ledger refuses it as conflicting_id (exit 1) and keeps it on stream REJECTED."""
    settings = settings_from(data, nats_url)
    try:
        spec = parse_json_object(event_file.read_bytes(), what=str(event_file))
        source, event_type, payload = spec["source"], spec["type"], spec["data"]
    except (OSError, ValueError) as exc:
        fail(str(exc))
    except KeyError as exc:
        fail(f"{event_file} lacks the field {exc}")
    sign_and_submit(
        settings,
        key,
        source=source,
        type=event_type,
        data=payload,
        as_json=as_json,
        timeout=timeout,
        subject=spec.get("subject"),
        event_id=spec.get("id"),
        schemaversion=spec.get("schemaversion", 1),
    )


@app.command("publish-batch")
def publish_batch(
    events_file: Path = typer.Argument(
        ..., help="JSON file: an array of event objects, each as `publish` takes one, all of one source."
    ),
    key: Path = typer.Option(..., "--key", "-k", help="The signer's private key (PEM)."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    timeout: float = typer.Option(30.0, help="Seconds to wait for every receipt."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign up to 1,024 events once, as a batch envelope, publish them in one message, and
    print each event's receipt. Each event is still judged, ordered and proved on its own;
    events that change identity, keys, policy or contracts must be published alone.

    As with `publish`, each run signs new events: an event whose "id" is already used is
    refused as conflicting_id (exit 1), even when the event under that id came from this file."""
    settings = settings_from(data, nats_url)
    try:
        specs = json.loads(events_file.read_bytes())
    except (OSError, ValueError) as exc:
        fail(f"{events_file}: {exc}")
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        fail(f"{events_file} must hold a JSON array of event objects")
    sign_and_submit_batch(settings, key, specs, as_json=as_json, timeout=timeout)


@app.command()
def tail(
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    from_height: int = typer.Option(None, "--from", help="First height to show (default: the newest block)."),
    count: int = typer.Option(None, help="Stop after this many blocks (default: follow forever)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON header per line."),
) -> None:
    """Follow the block stream, printing each block's header as it is appended."""
    settings = settings_from(data, nats_url)

    async def follow(nc: Client) -> None:
        js = nc.jetstream()
        start = from_height if from_height is not None else max(0, await last_height(js, settings.chain_names))
        end = None if count is None else start + count - 1
        async for height, raw in follow_blocks(js, start, to_height=end, names=settings.chain_names):
            block = Block.from_bytes(raw, height_hint=height)
            header = block.header
            if as_json:
                typer.echo(json.dumps({"hash": block.hash, **header.model_dump()}))
            else:
                typer.echo(
                    f"#{header.height:<7} {header.time}  events={header.event_count:<4} "
                    f"log={header.log_size:<8} hash={block.hash[:16]}…"
                )

    try:
        run(with_connection(settings, follow))
    except KeyboardInterrupt:
        pass


@app.command()
def verify(
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    witnessed: bool = typer.Option(
        False,
        "--witnessed",
        help="Also require the newest published checkpoint to be cosigned by the quorum of the chain's own "
        "witness policy and to match the verified chain (its root is the chain's at its size). On a gm chain "
        "whose policy names SHA-256 witnesses, its SHA-256 checkpoint too.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-verify the whole chain: links, Merkle roots, orderer signatures, and every event
    against the chain state before it. Exits 1 if anything fails."""
    settings = settings_from(data, nats_url)

    async def check(nc: Client) -> tuple[dict[str, Any], list[WitnessedCheck]]:
        client = GovChainClient(nc, names=settings.chain_names)
        if not witnessed and not as_json:  # progress with the rate (events/s) as it goes
            report = await verify_chain(
                nc.jetstream(),
                genesis_hash=settings.genesis_hash,
                progress=catch_up_display(err_console),
                names=settings.chain_names,
            )
            return report.to_json(), []
        records = await published_checkpoints(client) if witnessed else {}
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as progress:
            task = progress.add_task("blocks", total=None)

            def advance(height: int, newest: int) -> None:
                progress.update(task, completed=height + 1, total=newest + 1)

            if not witnessed:
                report = await verify_chain(
                    nc.jetstream(), genesis_hash=settings.genesis_hash, on_block=advance, names=settings.chain_names
                )
                return report.to_json(), []
            sizes = {tree: int(record["size"]) for tree, record in records.items() if record is not None}
            found = await verify_chain_at(
                nc.jetstream(), sizes, genesis_hash=settings.genesis_hash, on_block=advance, names=settings.chain_names
            )
        return found.report.to_json(), witnessed_checks(records, found) if found.report.ok else []

    report, witness_checks = run(with_connection(settings, check))
    summary = {k: report[k] for k in ("ok", "height", "events", "first_bad_height", "crypto")}
    for witness_check in witness_checks:
        summary["witnessed" if witness_check.tree == "chain" else "witnessed_sha256"] = witness_check.to_json()
        summary["ok"] = summary["ok"] and witness_check.ok
    if as_json:
        emit(summary, True)
    elif report["ok"]:
        typer.echo(f"chain OK: {report['height'] + 1} blocks, {report['events']} events verified")
        if report["seconds"]:
            typer.echo(f"  in {report['seconds']:.1f} s: {report['events_per_s']:,.0f} events/s")
        for witness_check in witness_checks:
            typer.echo(witness_check.describe())
    else:
        typer.echo(f"chain BROKEN at height {report['first_bad_height']}: {report['detail']}")
    if not summary["ok"]:
        raise typer.Exit(1)


@app.command()
def proof(
    event: str = typer.Argument(
        ...,
        metavar="EVENT",
        help="The event as SOURCE/ID (e.g. tax/tax-doc-1), or its bare ID when one source alone used it.",
    ),
    at_height: int = typer.Option(
        None, help="Prove against the signed head of this later block (default: the event's block)."
    ),
    witnessed: bool = typer.Option(
        False,
        "--witnessed",
        help="Prove against the newest witnessed checkpoint instead: cosigned by the quorum of the chain's "
        "witness policy (the chain is verified to learn it) and matching the verified chain.",
    ),
    pinned_witnesses: list[str] = typer.Option(
        None,
        "--witness",
        metavar="VKEY",
        help="With --quorum: require cosignatures from these witnesses (c2sp.org/tlog-cosignature vkeys, "
        "repeat the option) instead of learning the chain's policy, so the chain is not replayed. Implies --witnessed.",
    ),
    quorum: int = typer.Option(None, "--quorum", min=1, help="How many of the --witness keys must have cosigned."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Print an RFC 9162 inclusion proof of an event, checked here against the orderer-signed head.

    Events are named by source and id, as in CloudEvents: two departments may use the same id."""
    try:
        source, event_id = parse_event_ref(event)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="EVENT") from exc
    pinned = bool(pinned_witnesses)
    if pinned != (quorum is not None):
        raise typer.BadParameter(
            "give the witnesses you trust and how many must cosign", param_hint="--witness/--quorum"
        )
    if pinned and quorum > len(set(pinned_witnesses)):
        raise typer.BadParameter(f"{quorum} of {len(set(pinned_witnesses))} witnesses", param_hint="--quorum")
    witnessed = witnessed or pinned
    if witnessed and at_height is not None:
        raise typer.BadParameter(
            "--witnessed proves against the witnessed checkpoint's block", param_hint="--at-height"
        )
    settings = settings_from(data, nats_url)
    orderer_keys = trusted_orderer_keys(settings)
    named = genesis_payload(DataDir(settings.data_dir).genesis()).checkpoint_key
    # the keys of the chain's C2SP checkpoints: a gm chain's Ed25519 checkpoint key, else its orderer keys
    checkpoint_keys = orderer_keys if named is None else {(key := PublicKey.from_hex(named)).key_id: key}

    async def learnt_or_pinned(client: GovChainClient, nc: Client) -> tuple[WitnessedCheck, bytes | None]:
        """The witnessed checkpoint judged by your pinned witnesses, or by the chain's own
        policy, learnt by verifying the chain up to the checkpoint."""
        record = await published_checkpoint(client)
        if pinned:
            return check_pinned(record, checkpoint_keys, list(pinned_witnesses), quorum)
        sizes: dict[Tree, int] = {} if record is None else {"chain": int(record["size"])}
        found = await verify_chain_at(
            nc.jetstream(), sizes, genesis_hash=settings.genesis_hash, check_events=False, names=settings.chain_names
        )
        report, at = found.report, found.at.get("chain")
        if not report.ok:
            raise GovChainError(f"the chain does not verify at height {report.first_bad_height}: {report.detail}")
        return check_witnessed(record, at, report.events), at.root if at else None

    async def fetch(nc: Client) -> tuple[dict[str, Any], WitnessedCheck | None, str | None]:
        client = GovChainClient(nc, names=settings.chain_names)
        if not witnessed:
            return await client.inclusion_proof(event_id, at_height, source=source), None, None
        check, root = await learnt_or_pinned(client, nc)
        answer = await client.inclusion_proof(event_id, None, source=source)
        if not check.ok or check.height is None:
            return answer, check, None
        if answer["event_height"] > check.height:
            return (
                answer,
                check,
                (
                    f"the event is in block {answer['event_height']}, after the newest witnessed "
                    f"checkpoint (block {check.height}, size {check.size}): not witnessed yet"
                ),
            )
        answer = await client.inclusion_proof(event_id, check.height, source=source)
        if (answer["tree_size"], answer["root"]) != (check.size, root.hex() if root else None):
            return answer, check, "the proof's signed head is not the witnessed checkpoint"
        return answer, check, None

    answer, check, witness_problem = run(with_connection(settings, fetch))
    problem = inclusion_problem(answer, orderer_keys)
    if problem is None and check is not None and not check.ok:
        problem = check.describe()
    problem = problem or witness_problem
    if problem:
        err_console.print(f"[bold red]proof does not verify:[/] {problem}")
        raise typer.Exit(1)
    fields = ("source", "event_id", "leaf_hash", "leaf_index", "tree_size", "path", "root", "block_height")
    result = {k: answer[k] for k in fields}
    text = (
        f"event {event_ref(answer['source'], answer['event_id'])} is leaf {answer['leaf_index']} of "
        f"{answer['tree_size']}; proof of {len(answer['path'])} hashes verified against the signed head of "
        f"block {answer['block_height']}"
    )
    if check is not None:
        result["witnessed"] = check.to_json()
        text += (
            f", the checkpoint cosigned by {', '.join(check.cosigners)} "
            f"({len(check.cosigners)} of {check.required} required)"
        )
    emit(result, as_json, text)


@app.command()
def demo(
    data: Path = typer.Option(None, "--data", "-d", help="Run in this folder instead of a temporary one."),
    keep: bool = typer.Option(False, help="Leave the platform running after the scenario (needs --data)."),
    crypto: str = typer.Option(
        "intl", "--crypto", help="Crypto profile of the demo's new chain: intl or gm (国密: SM3, SM2, SM4-GCM)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start a throw-away platform, run a scripted scenario, verify the chain, print a summary."""
    from govchain.services.cli.demo import run_demo

    if crypto not in SUITE_NAMES:
        raise typer.BadParameter(f"--crypto is one of {', '.join(SUITE_NAMES)}, not {crypto!r}")
    if keep and data is None:
        err_console.print("[bold red]error:[/] --keep needs --data (a temporary folder is deleted on exit)")
        raise typer.Exit(2)
    summary = run(run_demo(data, keep=keep, quiet=as_json, on_summary=lambda s: emit(s, as_json), crypto=crypto))
    if not summary["ok"]:
        raise typer.Exit(1)
