"""``govchain log anchor``: anchor another chain's newest witnessed checkpoint in this chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from nats.aio.client import Client

from govchain.bus.subjects import ChainNames
from govchain.client import GovChainClient, LedgerQueryError
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    fail,
    run,
    settings_from,
    sign_and_submit,
    with_connection,
)
from govchain.transparency.anchor import anchor_of
from govchain.transparency.errors import TransparencyError


def anchor(
    key: Path = typer.Option(..., "--key", help="The department key that signs the anchor on this chain."),
    source: str = typer.Option(..., "--source", help="That department's id on this chain."),
    from_chain: str = typer.Option(
        None,
        "--from",
        help="The chain whose checkpoint is anchored, by its id as in GOVCHAIN_CHAIN (default: the default chain).",
    ),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record another chain's newest witnessed checkpoint in this chain (GOVCHAIN_CHAIN), as a
    document whose hash is the note's: that chain can then not show another history at that size
    without this chain's log contradicting it. Check an anchor later with
    `govchain registry document NOTE_FILE` on this chain."""
    settings = settings_from(data, nats_url)
    try:
        origin = ChainNames(from_chain)
    except ValueError as exc:
        fail(str(exc))
    if origin == settings.chain_names:
        fail("a chain anchors its checkpoints in another chain: --from names this very chain")

    async def newest(nc: Client) -> dict[str, Any] | LedgerQueryError:
        try:
            return await GovChainClient(nc, names=origin).checkpoint()
        except LedgerQueryError as exc:
            return exc

    record = run(with_connection(settings, newest))
    if isinstance(record, LedgerQueryError):
        fail(f"chain {from_chain or 'default'} has no checkpoint to anchor ({record.code}: {record})")
    try:
        found = anchor_of(str(record["note"]).encode("utf-8"))
    except (TransparencyError, ValueError) as exc:
        fail(f"chain {from_chain or 'default'} published a checkpoint that is not one: {exc}")
    sign_and_submit(
        settings,
        key,
        source=source,
        type="document.registered",
        data=found.document(),
        as_json=as_json,
        also={"anchored": {"origin": found.checkpoint.origin, "size": found.checkpoint.size, "note": record["note"]}},
    )
