"""What every command needs: settings from flags and environment, a NATS connection,
and readable errors instead of tracebacks."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from nats.aio.client import Client
from nats.errors import NoServersError
from rich.console import Console

from govchain.bus.connect import CLI_CONNECT_ATTEMPTS, connect
from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.datadir import DataDir, DataDirError
from govchain.protocol.batch import sign_batch
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import GovChainError
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.state import ChainState

T = TypeVar("T")

err_console = Console(stderr=True, soft_wrap=True)  # one line per error, whatever the width

DATA_OPTION = typer.Option(
    None,
    "--data",
    "-d",
    help="Data folder (keys, genesis, NATS store). Env: GOVCHAIN_DATA_DIR.",
    show_default=".govchain",
)
NATS_OPTION = typer.Option(
    None, "--nats-url", help="Use this NATS server instead of the one `govchain up` started. Env: GOVCHAIN_NATS_URL."
)
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object (for scripts) instead of text.")


def settings_from(data: Path | None, nats_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if data is not None:
        values["data_dir"] = data
    if nats_url is not None:
        values["nats_url"] = nats_url
    return Settings(**values)


def running_nats_url(settings: Settings) -> str:
    """The NATS URL to talk to: the configured one, or the one the running platform wrote."""
    if settings.nats_url:
        return settings.nats_url
    info = DataDir(settings.data_dir).run_info()
    if info is None:
        raise GovChainError(
            f"no running platform found for {settings.data_dir}: start it with "
            f"`govchain up --data {settings.data_dir}` or pass --nats-url"
        )
    return str(info["nats_url"])


def trusted_orderer_keys(settings: Settings) -> dict[str, PublicKey]:
    """Orderer keys named by this node's genesis: the anchor proofs are checked against."""
    try:
        genesis = genesis_payload(DataDir(settings.data_dir).genesis())
    except DataDirError as exc:
        fail(str(exc))
    state = ChainState.from_genesis(genesis)
    return {r.key_id: r.public_key for r in state.keys.values() if r.owner == "ledger"}


async def with_connection(settings: Settings, work: Callable[[Client], Awaitable[T]]) -> T:
    url = running_nats_url(settings)
    try:
        nc = await connect(url, settings, name="govchain-cli", attempts=CLI_CONNECT_ATTEMPTS)
    except NoServersError:
        raise GovChainError(f"cannot reach NATS at {url}: is the platform running (`govchain up`)?") from None
    try:
        return await work(nc)
    finally:
        await nc.drain()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; turn expected failures into a one-line error and exit 2."""
    try:
        return asyncio.run(coro)
    except GovChainError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except (ConnectionRefusedError, OSError) as exc:
        err_console.print(f"[bold red]error:[/] cannot reach NATS: {exc}")
        raise typer.Exit(2) from None


def fail(message: str) -> NoReturn:
    """A readable one-line error and exit code 2 (bad input or set-up), never a traceback."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def sign_and_submit(
    settings: Settings,
    key_file: Path,
    *,
    source: str,
    type: str,
    data: dict[str, Any],
    as_json: bool,
    timeout: float = 30.0,
    subject: str | None = None,
    event_id: str | None = None,
    schemaversion: int = 1,
    also: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Sign an event, publish it, print its receipt (and ``also``: what the command made that
    the next command needs, such as a citizen's id); exit 1 if it was rejected."""
    try:
        envelope = make_event(
            SigningKey.load(key_file),
            source=source,
            type=type,
            data=data,
            schemaversion=schemaversion,
            subject=subject,
            event_id=event_id,
        )
    except (GovChainError, ValueError) as exc:
        fail(str(exc))
    return submit_signed(settings, envelope, as_json=as_json, timeout=timeout, also=also)


def submit_signed(
    settings: Settings, envelope: Envelope, *, as_json: bool, timeout: float = 30.0, also: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Publish a signed event, print its receipt (with ``also`` first); exit 1 if it was rejected."""

    async def send(nc: Client) -> dict[str, Any]:
        return await GovChainClient(nc, names=settings.chain_names).submit(envelope, timeout)

    receipt = run(with_connection(settings, send))
    if receipt["status"] == "committed":
        text = f"committed: event {receipt['event_id']} in block {receipt['height']} at position {receipt['position']}"
    else:
        text = f"rejected: event {receipt['event_id']}: {receipt['reason']}: {receipt['detail']}"
    if also:
        receipt = {**also, **receipt}
        text = "\n".join([*(f"{name}: {value}" for name, value in also.items()), text])
    emit(receipt, as_json, text)
    if receipt["status"] != "committed":
        raise typer.Exit(1)
    return receipt


def sign_and_submit_batch(
    settings: Settings, key_file: Path, specs: list[dict[str, Any]], *, as_json: bool, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Sign events as one batch envelope, publish it, print a receipt per event; exit 1 if
    any was rejected."""
    try:
        key = SigningKey.load(key_file)
        events = [
            make_event(
                key,
                source=spec["source"],
                type=spec["type"],
                data=spec["data"],
                schemaversion=spec.get("schemaversion", 1),
                subject=spec.get("subject"),
                event_id=spec.get("id"),
            )
            for spec in specs
        ]
        batch = sign_batch(key, events)
    except KeyError as exc:
        fail(f"an event lacks the field {exc}")
    except (GovChainError, ValueError, TypeError) as exc:
        fail(str(exc))

    async def send(nc: Client) -> list[dict[str, Any]]:
        return await GovChainClient(nc, names=settings.chain_names).submit_batch(batch, timeout)

    receipts = run(with_connection(settings, send))
    if as_json:
        sys.stdout.write(json.dumps({"batch_id": batch.msg_id, "receipts": receipts}) + "\n")
    else:
        for receipt in receipts:
            if receipt["status"] == "committed":
                typer.echo(
                    f"committed: event {receipt['event_id']} in block {receipt['height']} "
                    f"at position {receipt['position']}"
                )
            else:
                typer.echo(f"rejected: event {receipt['event_id']}: {receipt['reason']}: {receipt['detail']}")
    if any(receipt["status"] != "committed" for receipt in receipts):
        raise typer.Exit(1)
    return receipts


def emit(value: dict[str, Any], as_json: bool, text: str | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(value) + "\n")
    else:
        typer.echo(text if text is not None else json.dumps(value, indent=2))
