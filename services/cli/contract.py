"""``govchain contract`` (deploy, list, follow a case) and ``govchain audit contracts``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from nats.aio.client import Client
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from govchain.client import GovChainClient
from govchain.protocol.jsontext import parse_json_object
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
    with_connection,
)
from govchain.services.contract import BUILTIN_CONTRACTS

contract_app = typer.Typer(help="Deploy smart contracts and follow their cases.", no_args_is_help=True)
audit_app = typer.Typer(help="Re-check the chain offline, as an auditor.", no_args_is_help=True)


@contract_app.command("deploy")
def deploy(
    definition: Path = typer.Argument(None, help="A contract definition (JSON)."),
    builtin: str = typer.Option(
        None, help=f"Deploy a shipped contract instead: {', '.join(sorted(BUILTIN_CONTRACTS))}."
    ),
    key: Path = typer.Option(..., "--key", "-k", help="The root authority's key, or a contract-admin's."),
    source: str = typer.Option("root", help="Principal the deployment is published for."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Deploy a contract on chain; the ledger refuses a definition that does not parse or check."""
    if (definition is None) == (builtin is None):
        fail("give a DEFINITION file or --builtin NAME")
    path = BUILTIN_CONTRACTS.get(builtin) if builtin else definition
    if path is None:
        fail(f"no shipped contract {builtin!r}; choose from {', '.join(sorted(BUILTIN_CONTRACTS))}")
    try:
        document = parse_json_object(path.read_bytes(), what=str(path))
    except (OSError, ValueError) as exc:
        fail(str(exc))
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=source,
        type="contract.deployed",
        data={"definition": document},
        as_json=as_json,
    )


@contract_app.command("list")
def list_contracts(data: Path = DATA_OPTION, nats_url: str = NATS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The deployed contracts and their versions."""
    settings = settings_from(data, nats_url)

    async def ask(nc: Client) -> dict[str, Any]:
        return await GovChainClient(nc, names=settings.chain_names).request(settings.chain_names.contract_list, {})

    answer = run(with_connection(settings, ask))
    text = (
        "\n".join(
            f"{c['contract_id']} v{c['version']} (block {c['deployed_height']}): {c['definition']['title']}"
            for c in answer["contracts"]
        )
        or "no contracts deployed"
    )
    emit(answer, as_json, text)


@contract_app.command("case")
def case(
    contract_id: str,
    case_key: str,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A case's state, variables, history and results."""
    settings = settings_from(data, nats_url)

    async def ask(nc: Client) -> dict[str, Any]:
        client = GovChainClient(nc, names=settings.chain_names)
        return await client.request(
            client.names.contract_case,
            {"contract_id": contract_id, "case_key": case_key, "min_height": await client.head_height()},
        )

    answer = run(with_connection(settings, ask))
    emit(answer, as_json, json.dumps(answer, indent=2))


@audit_app.command("contracts")
def audit(data: Path = DATA_OPTION, nats_url: str = NATS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Re-execute every contract from the chain alone; report any result that differs (exit 1)."""
    from govchain.services.contract.audit import audit_contracts  # replays every contract: loaded only here

    settings = settings_from(data, nats_url)

    async def check(nc: Client) -> dict[str, Any]:
        with Progress(
            TextColumn("re-executing"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as progress:
            task = progress.add_task("blocks", total=None)
            report = await audit_contracts(
                nc.jetstream(),
                genesis_hash=settings.genesis_hash,
                on_block=lambda height, last: progress.update(task, completed=height + 1, total=last + 1),
                names=settings.chain_names,
            )
        return report.to_json()

    report = run(with_connection(settings, check))
    if as_json:
        emit({k: report[k] for k in ("ok", "checked", "mismatches")}, True)
    else:
        typer.echo(f"{'OK' if report['ok'] else 'MISMATCH'}: {report['checked']} contract results checked")
        for mismatch in report["mismatches"]:
            typer.echo(f"  block {mismatch['height']}: {mismatch['kind']} {mismatch['event_id']}: {mismatch['detail']}")
    if not report["ok"]:
        raise typer.Exit(1)
