"""``govchain witness`` (run a checkpoint witness) and ``govchain log`` (the log's own keys in
the forms witnesses and clients configure)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_args

import typer
from nats.js import JetStreamContext
from pydantic import ValidationError

from govchain.audit import ChainReport
from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.client import GovChainClient, LedgerQueryError, log_vkeys, witness_requirement
from govchain.crypto import CHECKPOINT_SUITE, SUITE_NAMES, keeps_sha256_tree, suite_by_name
from govchain.datadir import DataDir, DataDirError
from govchain.privatefiles import write_private_durably
from govchain.protocol import events as ev
from govchain.protocol.block import Block
from govchain.protocol.errors import BlockVerificationError, GovChainError
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.merkle import Frontier
from govchain.protocol.state import ChainState
from govchain.protocol.verify import ChainVerifier, Checkpoint, VerifiedBlock
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    emit,
    fail,
    settings_from,
    sign_and_submit,
    trusted_orderer_keys,
)
from govchain.transparency.checkpoint import Tree, open_checkpoint, tree_origin
from govchain.transparency.errors import QuorumNotMet, TransparencyError
from govchain.transparency.policy import CosignedCheckpoint, verify_cosigned
from govchain.transparency.vkeys import Ed25519Verifier

LOG_VKEYS_FILE = "log-vkeys"
"""In a witness's folder: the checkpoint keys (vkeys) of the logs it follows, one per line, for
`govchain witness serve` without --log-vkey (a container's whole configuration is its folder)."""

WITNESS_DIR_OPTION = typer.Option(
    Path(".govchain-witness"),
    "--dir",
    envvar="GOVCHAIN_WITNESS_DIR",
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
        ...,
        "--name",
        help="The witness's name in its cosignature lines: a schema-less URL without spaces or '+', "
        "e.g. audit.example.gov/witness. Clients see it next to every cosignature.",
    ),
    log_vkeys: list[str] = typer.Option(
        [],
        "--log-vkey",
        help="A log this witness follows (its checkpoint vkey, from `govchain log vkey`); repeatable. Kept in "
        f"the folder ({LOG_VKEYS_FILE}), so `serve` needs no --log-vkey.",
    ),
    folder: Path = WITNESS_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create the witness's key and name, and print its vkey.

    The key is an Ed25519 PEM file, mode 0600, never overwritten. Give the printed verifier key
    (vkey) to the clients whose policy should count this witness, and to the root authority for
    the chain's witness policy (`govchain witness policy`)."""
    from govchain.services.witness.folder import WitnessFolder
    from govchain.services.witness.service import trusted_logs

    try:
        trusted_logs(log_vkeys)  # refuse a bad log key before anything is written
        signer = WitnessFolder(folder).init(name)
        if log_vkeys:
            _write_log_vkeys(folder, log_vkeys)
    except (GovChainError, ValueError) as exc:
        fail(str(exc))
    vkey = signer.verifier.vkey
    emit(
        {"dir": str(folder), "name": name, "vkey": vkey, "log_vkeys": log_vkeys},
        as_json,
        f"initialised witness {name} in {folder}\n  vkey: {vkey}\n"
        "Give the vkey to the clients whose policy should count this witness.",
    )


@witness_app.command("add-log")
def add_log(
    log_vkey: str = typer.Argument(..., help="The log's checkpoint key as a vkey (`govchain log vkey`)."),
    folder: Path = WITNESS_DIR_OPTION,
) -> None:
    """Follow another log (or another key of a log): add its vkey to the folder's list, which
    `govchain witness serve` reads when given no --log-vkey. Restart the witness after."""
    from govchain.services.witness.service import trusted_logs

    try:
        trusted_logs([log_vkey])
        known = read_log_vkeys(folder)
        if log_vkey not in known:
            _write_log_vkeys(folder, [*known, log_vkey])
    except (GovChainError, ValueError, OSError) as exc:
        fail(str(exc))
    typer.echo(f"{folder} follows {len(read_log_vkeys(folder))} log key(s)")


def read_log_vkeys(folder: Path) -> list[str]:
    """The log vkeys kept in a witness folder (none if it keeps none)."""
    path = folder / LOG_VKEYS_FILE
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]


def _write_log_vkeys(folder: Path, vkeys: list[str]) -> None:
    write_private_durably(folder / LOG_VKEYS_FILE, "".join(f"{v}\n" for v in dict.fromkeys(vkeys)).encode("utf-8"))


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
        [],
        "--log-vkey",
        envvar="GOVCHAIN_WITNESS_LOG_VKEYS",
        help="A log's checkpoint key as a vkey (print it with `govchain log vkey`). Repeat for more keys "
        "or more logs. Env: GOVCHAIN_WITNESS_LOG_VKEYS (space-separated). Default: the keys kept in "
        f"the folder's {LOG_VKEYS_FILE} (`witness init --log-vkey`, `witness add-log`).",
    ),
    origin: str = typer.Option(
        None,
        "--origin",
        help="The log's origin line, when all --log-vkey keys belong to one log whose origin is not "
        "their key name. Default: each key's name is its log's origin.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 in a container)."),
    port: int = typer.Option(8790, "--port", min=1, max=65535, envvar="GOVCHAIN_WITNESS_PORT", help="TCP port."),
    max_body_bytes: int = typer.Option(
        64 * 1024,
        "--max-body-bytes",
        min=1024,
        max=1024 * 1024,
        help="Largest add-checkpoint request body accepted (HTTP 413 beyond).",
    ),
    log_crypto: str = typer.Option(
        "intl",
        "--log-crypto",
        envvar="GOVCHAIN_WITNESS_LOG_CRYPTO",
        help="The followed logs' tree hash: intl (SHA-256, every C2SP log) or gm (a 国密 GovChain "
        "chain, whose checkpoints carry the root of its SM3 tree; docs/crypto-profiles.md).",
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
        log_vkeys = log_vkeys or read_log_vkeys(folder)
        if not log_vkeys:
            fail(
                f"no log to follow: give --log-vkey, or keep them in {folder / LOG_VKEYS_FILE} "
                "(`govchain witness add-log VKEY`)"
            )
        if log_crypto not in SUITE_NAMES:
            fail(f"--log-crypto is one of {', '.join(SUITE_NAMES)}, not {log_crypto!r}")
        logs = trusted_logs(log_vkeys, origin, tree=suite_by_name(log_crypto))
        witness_folder = WitnessFolder(folder)
        witness_folder.signer()  # fail here, readably, if the folder has no usable key
    except (GovChainError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"witness listening on http://{host}:{port} for {', '.join(log.origin for log in logs)}", err=True)
    run_server(witness_folder, logs, host, port, max_body_bytes=max_body_bytes)


@log_app.command("vkey")
def log_vkey(
    origin: str = typer.Option(
        None,
        "--origin",
        help="The log's key name, which SHOULD equal the origin line of its checkpoints "
        "(a schema-less URL, e.g. gov.example/govchain/main). Default: the chain's default origin, "
        "govchain.example/<chain id> (give the one the witness policy names, if it names one).",
    ),
    key: Path = typer.Option(None, "--key", "-k", help="Take the public key of this private key file (PEM)."),
    public_key: str = typer.Option(None, "--public-key", help="The Ed25519 public key in hex (64 digits)."),
    data: Path = DATA_OPTION,
) -> None:
    """Print the log's checkpoint key (the orderer's; a gm chain's Ed25519 checkpoint key) as a vkey.

    The form is name+keyid+base64(0x01 || public key), what `govchain witness serve --log-vkey`
    and clients take. Without --key or --public-key: every orderer key this node's genesis
    names, one per line."""
    if key is not None and public_key is not None:
        fail("give --key or --public-key, not both")
    if origin is None:
        try:
            origin = ev.default_log_origin(genesis_payload(DataDir(settings_from(data).data_dir).genesis()).chain_id)
        except DataDirError as exc:
            fail(f"{exc} (or give --origin)")
    try:
        if public_key is not None:
            keys = [PublicKey.from_hex(public_key)]
        elif key is not None:
            keys = [SigningKey.load(key).public]
        else:
            named = genesis_payload(DataDir(settings_from(data).data_dir).genesis()).checkpoint_key
            if named is not None:  # a gm chain: its Ed25519 checkpoint key, not its SM2 orderer key
                keys = [PublicKey.from_hex(named)]
            else:
                keys = list(trusted_orderer_keys(settings_from(data)).values())
        for public in keys:
            if public.suite is not CHECKPOINT_SUITE:
                fail(f"checkpoint keys are Ed25519 (c2sp.org/signed-note); {public.key_id[:16]}… is not")
            typer.echo(Ed25519Verifier(origin, public.raw).vkey)
    except (GovChainError, ValueError, OSError) as exc:
        fail(str(exc))


# -- the chain's witness policy -----------------------------------------------------------------


def parse_witness_spec(spec: str) -> dict[str, Any]:
    """``NAME=VKEY@URL``, ``VKEY@URL``, ``NAME=VKEY`` or ``VKEY`` → a policy entry.

    A vkey begins with its name (``name+keyid+key``), so NAME may be left out; given, it must be
    the vkey's. The URL is where the ledger asks the witness (``<url>/add-checkpoint``)."""
    name, sep, rest = spec.partition("=")
    if not sep or "+" in name:  # no NAME= part: the '=' found was base64 padding or nothing
        name, rest = "", spec
    parts = rest.split("+", 2)
    if len(parts) != 3:
        raise ValueError(f"not a witness NAME=VKEY@URL: {spec[:80]!r}")
    key, at, url = parts[2].partition("@")
    vkey = f"{parts[0]}+{parts[1]}+{key}"
    entry: dict[str, Any] = {"name": name or parts[0], "vkey": vkey}
    if at:
        entry["url"] = url.rstrip("/")
    return entry


@witness_app.command("policy")
def policy(
    witnesses: list[str] = typer.Option(
        [],
        "--witness",
        "-w",
        help="A witness as NAME=VKEY@URL (NAME may be left out: the vkey starts with it; @URL too, if the "
        "ledger learns it from GOVCHAIN_WITNESS_URLS). Repeat for each witness.",
    ),
    quorum: int = typer.Option(..., "--quorum", "-q", min=0, help="How many of the witnesses must cosign (k of n)."),
    sha256_witnesses: list[str] = typer.Option(
        [],
        "--sha256-witness",
        help="gm chains: a witness of the SHA-256 checkpoints (origin <origin>/sha256), e.g. a stock C2SP "
        "witness, as NAME=VKEY@URL. Repeat for each.",
    ),
    sha256_quorum: int = typer.Option(
        None, "--sha256-quorum", min=0, help="gm chains: how many --sha256-witness must cosign (k of n)."
    ),
    origin: str = typer.Option(
        None,
        "--origin",
        help="The origin line of the chain's checkpoints, a schema-less URL you control "
        "(e.g. gov.example.cn/govchain/<chain>). Default: govchain.example/<chain id>. The witnesses "
        "must follow the log under this origin (`govchain log vkey --origin`).",
    ),
    key: Path = typer.Option(None, "--key", "-k", help="The root authority's private key (PEM): sign and publish."),
    out: Path = typer.Option(
        None,
        "--out",
        help="Instead of --key: write the event for `govchain custody sign` (the root key stays offline).",
    ),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Name the chain's checkpoint witnesses and the quorum (a root-signed witness.policy_set).

    From the next block on, the ledger asks these witnesses to cosign each checkpoint and
    publishes a checkpoint (GET /log/checkpoint) once QUORUM of them cosigned it; `govchain
    verify --witnessed`, `govchain proof --witnessed`, the SDK and the portal count only their
    cosignatures. Who should witness: bodies independent of the operator (other departments, a
    court, the audit office), each with its own key (`govchain witness init`)."""
    if (key is None) == (out is None):
        fail("give --key (sign and publish now) or --out (sign offline with `govchain custody sign`)")
    try:
        sha256 = None
        if sha256_witnesses or sha256_quorum is not None:
            sha256 = {"witnesses": [parse_witness_spec(w) for w in sha256_witnesses], "quorum": sha256_quorum or 0}
        payload = ev.WitnessPolicySet.model_validate(
            {
                "origin": origin,
                "witnesses": [parse_witness_spec(w) for w in witnesses],
                "quorum": quorum,
                "sha256": sha256,
            }
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        fail(f"witness policy: {detail}")
    body = payload.model_dump(mode="json", exclude_none=True)
    if out is not None:
        spec = {"source": ev.ROOT, "type": ev.WITNESS_POLICY_TYPE, "data": body}
        try:
            write_private_durably(out, (json.dumps(spec, indent=2) + "\n").encode("utf-8"))
        except OSError as exc:
            fail(str(exc))
        emit(
            {"out": str(out), **spec},
            as_json,
            f"wrote {out}: sign it with `govchain custody sign {out} --key <root.pem>` and publish the result",
        )
        return
    settings = settings_from(data, nats_url)
    sign_and_submit(settings, key, source=ev.ROOT, type=ev.WITNESS_POLICY_TYPE, data=body, as_json=as_json)


# -- checking a checkpoint against the chain ----------------------------------------------------


@dataclass
class WitnessedCheck:
    """What `--witnessed` found about one tree's checkpoint: who cosigned it, and every problem."""

    tree: Tree = "chain"
    size: int | None = None
    height: int | None = None
    origin: str | None = None
    cosigners: list[str] = field(default_factory=list)
    required: int = 0
    problems: list[str] = field(default_factory=list)
    verified: CosignedCheckpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.verified is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "height": self.height,
            "origin": self.origin,
            "cosigners": self.cosigners,
            "required": self.required,
            "problems": self.problems,
        }

    def describe(self) -> str:
        what = "witnessed checkpoint" if self.tree == "chain" else "witnessed SHA-256 checkpoint"
        if self.ok:
            return (
                f"{what} OK: size {self.size} (block {self.height}) cosigned by "
                f"{', '.join(self.cosigners) or 'no witness'} ({len(self.cosigners)} of {self.required} required)"
            )
        return f"{what} FAILED: " + "; ".join(self.problems)


@dataclass
class TreeAt:
    """One tree as of one log size, captured while verifying: its root there and its policy."""

    root: bytes
    height: int
    log_vkeys: list[str]
    witnesses: list[str]
    quorum: int
    origin: str


@dataclass
class ChainAt:
    """What :func:`verify_chain_at` found: the report, each asked tree at its asked size (absent
    where the chain never reaches it), and the chain state after the last verified block."""

    report: ChainReport
    at: dict[Tree, TreeAt]
    state: ChainState | None


async def verify_chain_at(
    js: JetStreamContext,
    sizes: Mapping[Tree, int],
    *,
    genesis_hash: str | None = None,
    check_events: bool = True,
    on_block: Callable[[int, int], None] | None = None,
    names: ChainNames = DEFAULT,
) -> ChainAt:
    """Verify the chain like :func:`govchain.audit.verify_chain`, and capture, for each tree in
    ``sizes`` (the chain's own, a gm chain's SHA-256 one), the root of the verified log at that
    size and the witness policy then in force (the state after the block that reaches it)."""
    verifier = ChainVerifier(genesis_hash=genesis_hash, check_events=check_events)
    newest = await last_height(js, names)
    events = 0
    found: dict[Tree, TreeAt] = {}
    async for height, raw in follow_blocks(js, 0, to_height=newest, names=names):
        previous = verifier.checkpoint
        try:
            verified = verifier.verify(Block.from_bytes(raw, height_hint=height))
        except BlockVerificationError as exc:
            return _chain_at(ChainReport(False, verifier.height, events, height, exc.detail), found, verifier.state)
        events += len(verified.envelopes)
        for tree, size in sizes.items():
            if tree not in found:
                at = _tree_at(tree, size, previous, verified)
                if at is not None:
                    found[tree] = at
        if on_block is not None:
            on_block(height, newest)
    return _chain_at(ChainReport(True, verifier.height, events, None), found, verifier.state)


def _chain_at(report: ChainReport, found: dict[Tree, TreeAt], state: ChainState | None) -> ChainAt:
    """The report names the chain's crypto profile, as :func:`~govchain.audit.verify_chain`'s does."""
    return ChainAt(replace(report, crypto=None if state is None else state.suite.name), found, state)


def _tree_at(tree: Tree, size: int, previous: Checkpoint | None, verified: VerifiedBlock) -> TreeAt | None:
    """``tree`` at log size ``size``, if the block ``verified`` (after ``previous``) reaches it."""
    if tree == "chain":  # in the chain's own hash (SM3 on gm)
        before = None if previous is None else previous.log
        leaves, empty = verified.leaf_hashes, Frontier(suite=verified.state.suite)
    else:  # in SHA-256
        before = None if previous is None else previous.sha256_log
        leaves, empty = verified.sha256_leaf_hashes, Frontier()
    start = 0 if before is None else before.size
    if not start < size <= start + len(leaves):
        return None
    log = empty if before is None else before.copy()
    for leaf in leaves[: size - log.size]:
        log.append(leaf)
    state = verified.state
    witnesses, quorum = witness_requirement(state, tree)
    return TreeAt(
        log.root(),
        verified.block.header.height,
        log_vkeys(state, tree),
        witnesses,
        quorum,
        tree_origin(state.log_origin, tree),
    )


def check_witnessed(
    record: dict[str, Any] | None, at: TreeAt | None, chain_size: int, *, tree: Tree = "chain"
) -> WitnessedCheck:
    """Judge the published checkpoint ``record`` of ``tree`` against the verified chain: signed
    by the log's key under the tree's origin, cosigned by the quorum of the chain's own witness
    policy for that tree (as of that size), and its root the tree's root at that size."""
    check = WitnessedCheck(tree)
    if record is None:
        check.problems.append("no witnessed checkpoint has been published (is the ledger running?)")
        return check
    note = str(record.get("note", "")).encode("utf-8")
    claimed = int(record.get("size", -1))
    check.size, check.height = claimed, record.get("height")
    if at is None:
        check.problems.append(
            f"INCONSISTENT: the checkpoint is of size {claimed}, but the verified chain has only {chain_size} "
            "events: it describes a history this chain does not have"
        )
        return check
    check.origin, check.required = at.origin, at.quorum
    try:
        body, _ = open_checkpoint(note, [Ed25519Verifier.from_vkey(v) for v in at.log_vkeys])
    except TransparencyError as exc:
        check.problems.append(f"the checkpoint is not signed by a log key of the chain under origin {at.origin}: {exc}")
        return check
    if body.size != claimed or body.origin != at.origin:
        check.problems.append(
            f"the checkpoint note ({body.origin}, size {body.size}) is not the record "
            f"({record.get('origin')}, size {claimed}) or not of origin {at.origin}"
        )
    elif body.root != at.root:
        check.problems.append(
            f"INCONSISTENT: the log key signed root {body.root.hex()} for size {body.size}, but the verified "
            f"chain's log root at that size is {at.root.hex()}: a fork (two histories under one key)"
        )
    if not at.witnesses or at.quorum == 0:
        check.problems.append(
            "the chain's witness policy requires no cosignature: the root authority names "
            "witnesses and a quorum with `govchain witness policy` (a checkpoint the operator "
            "alone signed proves no more than a block does)"
        )
        return check
    try:
        verified = verify_cosigned(note, at.log_vkeys, at.witnesses, at.quorum)
    except QuorumNotMet as exc:
        check.problems.append(
            f"only {exc.found} of the {exc.required} witness cosignatures the chain's policy "
            f"requires (at block {at.height})"
        )
        return check
    except TransparencyError as exc:
        check.problems.append(f"the checkpoint's cosignatures do not verify: {exc}")
        return check
    check.cosigners = [w.name for w in verified.witnesses]
    check.verified = verified
    return check


async def published_checkpoint(client: Any, *, tree: Tree = "chain") -> dict[str, Any] | None:
    """The ledger's newest checkpoint record of ``tree``, None when it has none."""
    try:
        return dict(await client.checkpoint(tree=tree))
    except LedgerQueryError as exc:
        if exc.code == "not_found":
            return None
        raise


async def published_checkpoints(client: GovChainClient) -> dict[Tree, dict[str, Any] | None]:
    """The newest checkpoint record of each of the log's trees (None where none is published
    yet). Both are asked for, whatever the chain: which ones count is judged from the verified
    chain (:func:`witnessed_checks`), not from a genesis read that may fail. On an intl chain
    the ledger answers the SHA-256 question with its own tree's checkpoint."""
    return {tree: await published_checkpoint(client, tree=tree) for tree in get_args(Tree)}


def witnessed_checks(records: Mapping[Tree, dict[str, Any] | None], found: ChainAt) -> list[WitnessedCheck]:
    """Each tree's published checkpoint judged against the verified chain, for every tree whose
    witnesses the chain's newest policy names: the chain's own, and on a gm chain its SHA-256
    tree (stock C2SP witnesses). A gm chain witnessed through its SHA-256 tree alone is judged by
    it: its headers sign both roots over the same leaves, so a fork of one forks the other.
    With no witnesses named at all, the chain's own tree is judged, and fails for that."""
    events, state = found.report.events, found.state
    sha256 = state is not None and keeps_sha256_tree(state.suite) and witness_requirement(state, "sha256")[1] > 0
    own = state is None or witness_requirement(state)[1] > 0 or not sha256
    checks = []
    if own:
        checks.append(check_witnessed(records.get("chain"), found.at.get("chain"), events))
    if sha256:
        checks.append(check_witnessed(records.get("sha256"), found.at.get("sha256"), events, tree="sha256"))
    return checks


def check_pinned(
    record: dict[str, Any] | None, orderer_keys: dict[str, PublicKey], witnesses: list[str], quorum: int
) -> tuple[WitnessedCheck, bytes | None]:
    """Judge ``record`` against a witness policy the caller pins (``--witness`` vkeys and
    ``--quorum``, as a standard tlog client is configured) instead of one learnt by verifying
    the whole chain: signed under the record's origin by an orderer key of this node's genesis
    and cosigned by ``quorum`` of ``witnesses``. Returns the check and the checkpoint's root."""
    check = WitnessedCheck(required=quorum)
    if record is None:
        check.problems.append("no witnessed checkpoint has been published (is the ledger running?)")
        return check, None
    origin = str(record.get("origin", ""))
    check.size, check.height, check.origin = int(record.get("size", -1)), record.get("height"), origin
    try:
        verifiers = [Ed25519Verifier(origin, key.raw).vkey for key in orderer_keys.values()]
        verified = verify_cosigned(str(record.get("note", "")).encode("utf-8"), verifiers, witnesses, quorum)
    except QuorumNotMet as exc:
        check.problems.append(f"only {exc.found} of the {exc.required} cosignatures you require")
        return check, None
    except (TransparencyError, ValueError) as exc:
        check.problems.append(
            f"the checkpoint does not verify against genesis's orderer keys and your witnesses: {exc}"
        )
        return check, None
    if verified.checkpoint.size != check.size:
        check.problems.append(f"the record says size {check.size}, its signed note {verified.checkpoint.size}")
        return check, None
    check.cosigners = [w.name for w in verified.witnesses]
    check.verified = verified
    return check, verified.checkpoint.root
