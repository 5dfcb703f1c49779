"""``govchain witness`` (run a checkpoint witness) and ``govchain log`` (the log's own keys in
the forms witnesses and clients configure)."""

from __future__ import annotations

from pathlib import Path

import typer

from govchain.protocol.errors import GovChainError
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.services.cli.common import DATA_OPTION, JSON_OPTION, emit, fail, settings_from, trusted_orderer_keys
from govchain.transparency.vkeys import Ed25519Verifier

WITNESS_DIR_OPTION = typer.Option(
    Path(".govchain-witness"), "--dir", envvar="GOVCHAIN_WITNESS_DIR",
    help="The witness's folder: its key (witness.pem), name (witness.json) and state (witness.db). "
         "Env: GOVCHAIN_WITNESS_DIR.",
)

witness_app = typer.Typer(
    help=(
        "Run a checkpoint witness (c2sp.org/tlog-witness) with its own key.\n\n"
        "A witness cosigns a log's signed checkpoints only when they are consistent with every "
        "checkpoint it cosigned before, so the log cannot show two histories unseen. A department "
        "or a third party (court, audit office) runs it.\n\n"
        "Start with `govchain witness init --name NAME`, give `govchain witness vkey` to the clients "
        "that should count this witness, then `govchain witness serve --log-vkey VKEY`."
    ),
    no_args_is_help=True,
)

log_app = typer.Typer(
    help="The event log as a transparency log: its checkpoint key in the form witnesses and clients use.",
    no_args_is_help=True,
)


@witness_app.command("init")
def init(
    name: str = typer.Option(
        ..., "--name",
        help="The witness's name in its cosignature lines: a schema-less URL without spaces or '+', "
             "e.g. audit.example.gov/witness. Clients see it next to every cosignature.",
    ),
    folder: Path = WITNESS_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create the witness's key and name, and print its vkey.

    The key is an Ed25519 PEM file, mode 0600, never overwritten. Give the printed verifier key
    (vkey) to the clients whose policy should count this witness."""
    from govchain.services.witness.folder import WitnessFolder

    try:
        signer = WitnessFolder(folder).init(name)
    except GovChainError as exc:
        fail(str(exc))
    vkey = signer.verifier.vkey
    emit(
        {"dir": str(folder), "name": name, "vkey": vkey},
        as_json,
        f"initialised witness {name} in {folder}\n  vkey: {vkey}\n"
        "Give the vkey to the clients whose policy should count this witness.",
    )


@witness_app.command("vkey")
def vkey(folder: Path = WITNESS_DIR_OPTION) -> None:
    """Print the witness's verifier key (vkey) for clients' policies.

    The form is name+keyid+base64(0x04 || public key): a c2sp.org/tlog-cosignature key, which
    clients list among the witnesses they trust."""
    from govchain.services.witness.folder import WitnessFolder

    try:
        typer.echo(WitnessFolder(folder).signer().verifier.vkey)
    except GovChainError as exc:
        fail(str(exc))


@witness_app.command("serve")
def serve(
    log_vkeys: list[str] = typer.Option(
        ..., "--log-vkey", envvar="GOVCHAIN_WITNESS_LOG_VKEYS",
        help="A log's checkpoint key as a vkey (print it with `govchain log vkey`). Repeat for more keys "
             "or more logs. Env: GOVCHAIN_WITNESS_LOG_VKEYS (space-separated).",
    ),
    origin: str = typer.Option(
        None, "--origin",
        help="The log's origin line, when all --log-vkey keys belong to one log whose origin is not "
             "their key name. Default: each key's name is its log's origin.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 in a container)."),
    port: int = typer.Option(8790, "--port", min=1, max=65535, envvar="GOVCHAIN_WITNESS_PORT", help="TCP port."),
    max_body_bytes: int = typer.Option(
        64 * 1024, "--max-body-bytes", min=1024, max=1024 * 1024,
        help="Largest add-checkpoint request body accepted (HTTP 413 beyond).",
    ),
    folder: Path = WITNESS_DIR_OPTION,
) -> None:
    """Serve the witness over HTTP until interrupted.

    POST /add-checkpoint takes a consistency proof and a log-signed checkpoint and answers with
    this witness's cosignature (200), the size it last cosigned (409), or a refusal (400, 403,
    404, 422), as c2sp.org/tlog-witness specifies. GET /<sha256(origin) hex>/checkpoint serves
    the latest cosigned checkpoint to monitors. Each cosigned tree head is on disk (SQLite,
    synchronous=FULL) before it is answered."""
    from govchain.services.witness.folder import WitnessFolder
    from govchain.services.witness.service import serve as run_server
    from govchain.services.witness.service import trusted_logs

    try:
        logs = trusted_logs(log_vkeys, origin)
        witness_folder = WitnessFolder(folder)
        witness_folder.signer()  # fail here, readably, if the folder has no usable key
    except (GovChainError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"witness listening on http://{host}:{port} for {', '.join(log.origin for log in logs)}", err=True)
    run_server(witness_folder, logs, host, port, max_body_bytes=max_body_bytes)


@log_app.command("vkey")
def log_vkey(
    origin: str = typer.Option(
        ..., "--origin",
        help="The log's key name, which SHOULD equal the origin line of its checkpoints "
             "(a schema-less URL, e.g. gov.example/govchain/main).",
    ),
    key: Path = typer.Option(None, "--key", "-k", help="Take the public key of this private key file (PEM)."),
    public_key: str = typer.Option(None, "--public-key", help="The Ed25519 public key in hex (64 digits)."),
    data: Path = DATA_OPTION,
) -> None:
    """Print the log's checkpoint key (the orderer's) as a vkey.

    The form is name+keyid+base64(0x01 || public key), what `govchain witness serve --log-vkey`
    and clients take. Without --key or --public-key: every orderer key this node's genesis
    names, one per line."""
    if key is not None and public_key is not None:
        fail("give --key or --public-key, not both")
    try:
        if public_key is not None:
            keys = [PublicKey.from_hex(public_key)]
        elif key is not None:
            keys = [SigningKey.load(key).public]
        else:
            keys = list(trusted_orderer_keys(settings_from(data)).values())
        for public in keys:
            typer.echo(Ed25519Verifier(origin, public.raw).vkey)
    except (GovChainError, ValueError, OSError) as exc:
        fail(str(exc))
