"""Witnessed checkpoints: the ledger signs the event log's tree head as a c2sp.org/tlog-checkpoint
note, asks the witnesses of the on-chain policy to cosign it (c2sp.org/tlog-witness), and
publishes it on stream CHECKPOINTS once the policy's quorum cosigned.

It runs beside the orderer as its own task and never holds it up: it reads only what the
orderer has already committed (the ledger store's head, its Merkle nodes and, when a
``witness.policy_set`` block went by, its chain state), signs at most once per
``GOVCHAIN_CHECKPOINT_INTERVAL_MS``, and talks to each witness in a thread of its own with a
timeout. A witness that is down, slow or refusing is retried with exponential backoff; until the
quorum cosigned a newer size the published checkpoint simply stays older ("finality waits,
ordering does not").

* **Origin**: the chain's :attr:`~govchain.protocol.state.ChainState.log_origin`, i.e. the
  policy's ``origin``, else ``govchain.example/<chain id>``. The note key that signs is the
  orderer's Ed25519 key under that name (``govchain log vkey``); on a gm chain, whose orderer
  key is SM2, the Ed25519 checkpoint key its genesis names (docs/crypto-profiles.md).
* **Sizes**: one checkpoint per published log size, always a block boundary (the log after a
  block), so ``size`` names the block too (``height`` in the record).
* **The add-checkpoint dance**: each witness is sent the size it last cosigned (as far as this
  process knows: 0 at first, or what the newest published checkpoint says it cosigned) and a
  consistency proof from it. A 409 answer names the witness's real size; the request is made
  again from there at once. A 422 means the witness holds another history: logged loudly,
  backed off, never worked around.
* **Only lease holders publish**: with a standby orderer, the one holding the ordering lease
  publishes; the other keeps quiet.
* **Two trees on a gm chain** (:class:`CheckpointedTree`): the chain's own SM3 tree, as above,
  and the RFC 6962 SHA-256 tree over the same leaves that stock C2SP witnesses can check, under
  the origin ``<origin>/sha256``, signed by the same Ed25519 key, cosigned by the witnesses of
  the policy's ``sha256`` part and published on its own subject of stream CHECKPOINTS. Each tree
  has a publisher of its own (:func:`checkpoint_publishers` makes both).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from govchain.bus.lease import Lease
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.logs import get_logger
from govchain.protocol import events as ev
from govchain.protocol.block import BlockHeader
from govchain.protocol.envelope import utc_now
from govchain.protocol.keys import SigningKey
from govchain.protocol.verify import Checkpoint
from govchain.services.ledger.store import LedgerStore
from govchain.transparency.checkpoint import LogCheckpoint, Tree, add_signatures, sign_checkpoint, tree_origin
from govchain.transparency.cosignature import CosignatureVerifier
from govchain.transparency.errors import TransparencyError
from govchain.transparency.note import NoteSignature
from govchain.transparency.vkeys import Ed25519Signer
from govchain.transparency.witness_protocol import format_add_checkpoint, parse_cosignatures, parse_size_answer

log = get_logger("govchain.ledger.checkpoints")

MAX_ANSWER_BYTES = 64 * 1024
"""A witness's answer is a few signature lines; more is not read."""
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 60.0
ATTEMPTS = 3
"""Requests to one witness per round: a 409 makes another at once, from the size it names."""
QUORUM_GRACE_S = 0.5
"""Once the quorum cosigned, how long a round still waits for the other witnesses' answers."""
KEPT_COSIGNATURES = 16
"""Recent sizes whose cosignature each witness link keeps, so that witnesses answering at
different moments still meet at one size."""

Post = Callable[[str, bytes, float], tuple[int, bytes]]
"""``post(url, body, timeout)`` → (HTTP status, body): one blocking HTTP POST."""


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST ``body`` to ``url``; any HTTP status is an answer, a network failure raises OSError."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": "govchain-ledger"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only (on-chain policy)
            return answer.status, answer.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(MAX_ANSWER_BYTES)


@dataclass(frozen=True, slots=True)
class CheckpointedTree:
    """Which of the log's trees a publisher checkpoints, and where its policy, origin, root and
    stream subject are: the chain's own tree (SHA-256 on intl, SM3 on gm), or a gm chain's
    SHA-256 tree over the same leaves (the header's ``log_root_sha256``)."""

    tree: Tree

    def origin(self, log_origin: str) -> str:
        return tree_origin(log_origin, self.tree)

    def witnesses(self, policy: ev.WitnessPolicySet | None) -> tuple[list[ev.NamedWitness], int]:
        """(witnesses, quorum) of this tree's checkpoints under ``policy``; none without one."""
        part = policy if self.tree == "chain" or policy is None else policy.sha256
        return ([], 0) if part is None else (part.witnesses, part.quorum)

    def witnesses_of_record(self, policy: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The witnesses of this tree in a published record's (JSON) policy."""
        part = policy if self.tree == "chain" else (policy or {}).get("sha256")
        return list((part or {}).get("witnesses") or [])

    def head(self, header: BlockHeader) -> tuple[int, bytes]:
        root = header.log_root if self.tree == "chain" else header.log_root_sha256
        if root is None:
            raise ValueError(f"block {header.height} carries no SHA-256 log root")
        return header.log_size, bytes.fromhex(root)

    def head_of(self, checkpoint: Checkpoint) -> tuple[int, bytes]:
        log = checkpoint.log if self.tree == "chain" else checkpoint.sha256_log
        if log is None:
            raise ValueError("the ledger keeps no SHA-256 tree")
        return log.size, log.root()

    def subject(self, names: ChainNames) -> str:
        return names.checkpoints_subject if self.tree == "chain" else names.sha256_checkpoints_subject

    def msg_id(self, size: int, digest: str) -> str:
        return f"checkpoint-{size}-{digest}" if self.tree == "chain" else f"checkpoint-sha256-{size}-{digest}"


CHAIN_TREE = CheckpointedTree("chain")
SHA256_TREE = CheckpointedTree("sha256")


@dataclass(frozen=True, slots=True)
class Target:
    """The checkpoint of one log size: what is signed and offered to the witnesses."""

    height: int
    size: int
    root: bytes
    origin: str
    note: bytes
    """The checkpoint note with the log's signature alone."""
    policy: ev.WitnessPolicySet | None
    policy_height: int | None = None
    """The block whose ``witness.policy_set`` set :attr:`policy`: where a verifier with no
    state of its own (a browser) finds that root-signed event to check the policy itself."""

    @property
    def text(self) -> bytes:
        return self.note[: self.note.rfind(b"\n\n") + 1]


@dataclass
class WitnessLink:
    """What the ledger knows of one witness: where it is, what it cosigned, when to ask again."""

    name: str
    vkey: str
    url: str | None
    verifier: CosignatureVerifier
    known_size: int = 0
    """The size the witness last cosigned, as far as we know (its 409 answers correct it)."""
    cosigned: dict[int, tuple[bytes, NoteSignature]] = field(default_factory=dict)
    """size → (root, cosignature) of recent sizes it cosigned."""
    failures: int = 0
    retry_at: float = 0.0
    task: asyncio.Task[None] | None = None
    last_problem: str | None = None

    def cosignature_for(self, target: Target) -> NoteSignature | None:
        found = self.cosigned.get(target.size)
        return found[1] if found is not None and found[0] == target.root else None

    def keep(self, size: int, root: bytes, signature: NoteSignature) -> None:
        self.cosigned[size] = (root, signature)
        for old in sorted(self.cosigned)[:-KEPT_COSIGNATURES]:
            del self.cosigned[old]
        self.known_size = max(self.known_size, size)
        self.failures, self.retry_at, self.last_problem = 0, 0.0, None

    def back_off(self, problem: str) -> None:
        self.failures += 1
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self.failures - 1))
        self.retry_at = time.monotonic() + delay
        if problem != self.last_problem or self.failures in (1, 5) or self.failures % 20 == 0:
            log.warning(
                "witness did not cosign; retrying later",
                witness=self.name,
                problem=problem,
                failures=self.failures,
                retry_in_s=round(delay, 1),
            )
        self.last_problem = problem


@dataclass(frozen=True, slots=True)
class Published:
    size: int
    cosigners: frozenset[str]


class CheckpointPublisher:
    """Follows the ledger store's head; signs, gathers cosignatures and publishes checkpoints."""

    def __init__(
        self,
        js: JetStreamContext,
        store: LedgerStore,
        key: SigningKey,
        *,
        interval_s: float = 1.0,
        timeout_s: float = 5.0,
        url_overrides: dict[str, str] | None = None,
        lease: Lease | None = None,
        post: Post = http_post,
        names: ChainNames = DEFAULT,
        tree: CheckpointedTree = CHAIN_TREE,
    ) -> None:
        self.js = js
        self.names = names
        self.tree = tree
        self.store = store
        self.key = key
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.url_overrides = dict(url_overrides or {})
        self.lease = lease
        self.post = post
        self.links: dict[str, WitnessLink] = {}
        """By vkey: a witness keeps what we know of it across policy changes that keep its key."""
        self.target: Target | None = None
        self.policy: ev.WitnessPolicySet | None = None
        self.policy_height: int | None = None
        self.origin: str | None = None
        self.published: Published | None = None
        self._head_height = -1
        self._loaded_last = False
        self._size_hints: dict[str, int] = {}

    # -- the loop

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: nothing here may stop the ledger, so every failure is logged and retried."""
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a store or NATS hiccup: try again next round
                    log.warning("checkpoint round failed; retrying", error=f"{type(exc).__name__}: {exc}")
                await _pause(stop, self.interval_s)
        finally:
            for link in self.links.values():
                if link.task is not None:
                    link.task.cancel()

    async def step(self) -> None:
        """One round: the newest head, the witnesses that lag asked, a checkpoint published if
        its quorum is met. Returns once the quorum answered or every request ended or timed out;
        a slow witness's answer is taken up by a later round."""
        if self.lease is not None and not self.lease.held:
            self._loaded_last = False  # another orderer publishes meanwhile: read the stream again after
            return
        if not self._loaded_last:
            await self._load_published()
        target = await self._newest()
        if target is None:
            return
        self.target = target
        now = time.monotonic()
        for link in self._active_links():
            if link.task is None and link.url and link.cosignature_for(target) is None and now >= link.retry_at:
                link.task = asyncio.create_task(self._ask(link, target), name=f"witness {link.name}")
        deadline = time.monotonic() + self.timeout_s + 1
        while True:
            pending = {link.task for link in self._active_links() if link.task is not None and not link.task.done()}
            if self._quorum_met(target):  # publish soon; stragglers get a moment, then a later round
                deadline = min(deadline, time.monotonic() + QUORUM_GRACE_S)
            if not pending or time.monotonic() >= deadline:
                break
            await asyncio.wait(
                pending, timeout=max(0.0, deadline - time.monotonic()), return_when=asyncio.FIRST_COMPLETED
            )
        await self._publish_best()

    # -- the head

    async def _newest(self) -> Target | None:
        height = await asyncio.to_thread(self.store.head_height)
        if height < 0:
            return None
        if height == self._head_height and self.target is not None:
            return self.target
        policy_changed = self.origin is None or ev.WITNESS_POLICY_TYPE in await asyncio.to_thread(
            self.store.event_types_between, self._head_height, height
        )
        if policy_changed:
            checkpoint = await asyncio.to_thread(self.store.checkpoint)
            if checkpoint is None:
                return None
            height, (size, root) = checkpoint.height, self.tree.head_of(checkpoint)
            self._set_policy(checkpoint.state.witness_policy, self.tree.origin(checkpoint.state.log_origin))
            self.policy_height = checkpoint.state.witness_policy_height
        else:
            found = await asyncio.to_thread(self.store.header, height)
            if found is None:
                return None
            size, root = self.tree.head(found[0])
        self._head_height = height
        assert self.origin is not None
        checkpoint_body = LogCheckpoint(self.origin, size, root)
        note = sign_checkpoint(checkpoint_body, [Ed25519Signer(self.origin, self.key)])
        return Target(height, size, root, self.origin, note, self.policy, self.policy_height)

    def _set_policy(self, policy: ev.WitnessPolicySet | None, origin: str) -> None:
        if origin != self.origin and self.origin is not None:
            log.info("checkpoint origin changed", old=self.origin, new=origin)
            for link in self.links.values():  # what they cosigned under another origin says nothing now
                if link.task is not None:
                    link.task.cancel()
            self.links.clear()
        self.policy, self.origin = policy, origin
        witnesses, quorum = self.tree.witnesses(policy)
        wanted = {w.vkey: w for w in witnesses}
        for vkey in list(self.links):
            if vkey not in wanted:
                dropped = self.links.pop(vkey)
                if dropped.task is not None:
                    dropped.task.cancel()
        for vkey, witness in wanted.items():
            url = self.url_overrides.get(witness.name, witness.url)
            known = self.links.get(vkey)
            if known is None:
                self.links[vkey] = WitnessLink(
                    witness.name,
                    vkey,
                    url,
                    CosignatureVerifier.from_vkey(vkey),
                    known_size=self._size_hints.get(vkey, 0),
                )
            else:
                known.url = url
        if policy is not None:
            missing = [w.name for w in witnesses if not self.url_overrides.get(w.name, w.url)]
            log.info(
                "witness policy",
                origin=origin,
                quorum=quorum,
                witnesses=[w.name for w in witnesses],
                without_url=missing,
            )

    def _active_links(self) -> list[WitnessLink]:
        return list(self.links.values())

    # -- one witness

    async def _ask(self, link: WitnessLink, target: Target) -> None:
        try:
            problem = await self._ask_once(link, target)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a witness does, the ledger goes on
            problem = f"{type(exc).__name__}: {exc}"
        finally:
            link.task = None
        if problem is not None:
            link.back_off(problem)

    async def _ask_once(self, link: WitnessLink, target: Target) -> str | None:
        """Up to :data:`ATTEMPTS` requests; the problem, or None once the witness cosigned."""
        assert link.url is not None
        url = f"{link.url.rstrip('/')}/add-checkpoint"
        problem = "no answer"
        for _ in range(ATTEMPTS):
            old = link.known_size
            if old > target.size:
                return None  # the witness is ahead of this process (another orderer published): wait
            if old in (0, target.size):
                proof: list[bytes] = []
            else:
                proof = await asyncio.to_thread(self.store.consistency_proof, old, target.size, self.tree.tree)
            body = format_add_checkpoint(old, proof, target.note)
            status, answer = await asyncio.to_thread(self.post, url, body, self.timeout_s)
            if status == 200:
                signature = self._verified_cosignature(link, target, answer)
                if signature is None:
                    return "its answer holds no valid cosignature by its key"
                link.keep(target.size, target.root, signature)
                return None
            if status == 409:
                try:
                    link.known_size = parse_size_answer(answer)
                except TransparencyError as exc:
                    return f"409 without a size: {exc}"
                problem = f"409: it holds size {link.known_size}"
                continue
            reason = answer.decode("utf-8", "replace").strip()[:200]
            if status == 422:
                log.error(
                    "witness refuses the checkpoint as inconsistent with what it cosigned before",
                    witness=link.name,
                    size=target.size,
                    reason=reason,
                )
            return f"HTTP {status}: {reason}"
        return problem

    @staticmethod
    def _verified_cosignature(link: WitnessLink, target: Target, answer: bytes) -> NoteSignature | None:
        """The one line of the answer that is this witness's valid cosignature of the note;
        anything else a witness sends (other keys, bad lines) is dropped, so it can never make
        the published note fail verification."""
        try:
            lines = parse_cosignatures(answer)
        except TransparencyError:
            return None
        verifier = link.verifier
        for line in lines:
            ours = (line.name, line.key_id) == (verifier.name, verifier.key_id)
            if ours and verifier.verify(target.text, line.signature):
                return line
        return None

    # -- publishing

    def _cosignatures(self, size: int, root: bytes) -> list[tuple[str, NoteSignature]]:
        found = []
        for link in self._active_links():
            entry = link.cosigned.get(size)
            if entry is not None and entry[0] == root:
                found.append((link.name, entry[1]))
        return found

    def _quorum(self) -> int:
        return self.tree.witnesses(self.policy)[1]

    def _quorum_met(self, target: Target) -> bool:
        return len(self._cosignatures(target.size, target.root)) >= self._quorum()

    async def _publish_best(self) -> None:
        """Publish the current target if its quorum cosigned and it says more than the last
        published checkpoint (a larger size, or the same size with more witnesses)."""
        target = self.target
        if target is None:
            return
        cosigs = self._cosignatures(target.size, target.root)
        if len(cosigs) < self._quorum():
            return
        names = frozenset(name for name, _ in cosigs)
        if not self._says_more(target.size, names):
            return
        newest = await newest_checkpoint(self.js, self.names, self.tree)  # another orderer may have published since
        if newest is not None:
            self.published = Published(int(newest["size"]), frozenset(newest.get("cosigners") or []))
            if not self._says_more(target.size, names):
                return
        note = add_signatures(target.note, [sig for _, sig in cosigs])
        record = {
            "origin": target.origin,
            "size": target.size,
            "root": target.root.hex(),
            "height": target.height,
            "note": note.decode("utf-8"),
            "cosigners": sorted(names),
            "policy": None if target.policy is None else target.policy.model_dump(mode="json"),
            "policy_height": target.policy_height,
            "published": utc_now(),
        }
        digest = hashlib.sha256(note).hexdigest()[:32]
        await self.js.publish(
            self.tree.subject(self.names),
            json.dumps(record).encode(),
            stream=self.names.checkpoints_stream,
            headers={"Nats-Msg-Id": self.tree.msg_id(target.size, digest)},
        )
        self.published = Published(target.size, names)
        log.debug(  # up to one a second; the newest is on /log/checkpoint and the portal
            "checkpoint published",
            tree=self.tree.tree,
            size=target.size,
            height=target.height,
            cosigners=sorted(names),
            quorum=self._quorum(),
        )

    def _says_more(self, size: int, cosigners: frozenset[str]) -> bool:
        """Whether a checkpoint of ``size`` with ``cosigners`` says more than the last published
        one: a larger size, or the same size with more witnesses. The newest on the stream
        never goes back."""
        last = self.published
        return last is None or size > last.size or (size == last.size and not cosigners <= last.cosigners)

    async def _load_published(self) -> None:
        """Start from the newest published checkpoint: its size, and which witnesses cosigned it
        (their starting size: a witness that moved on since answers 409 with its own)."""
        record = await newest_checkpoint(self.js, self.names, self.tree)
        self._loaded_last = True
        if record is None:
            return
        self.published = Published(int(record["size"]), frozenset(record.get("cosigners") or []))
        for witness in self.tree.witnesses_of_record(record.get("policy")):
            if witness.get("name") in self.published.cosigners:
                self._size_hints[str(witness.get("vkey"))] = self.published.size


def checkpointed_tree(store: LedgerStore, tree: Tree) -> CheckpointedTree:
    """``tree`` as this chain checkpoints it: asked for the SHA-256 tree, a chain whose own tree
    is SHA-256 (intl) answers with its own checkpoints."""
    return SHA256_TREE if tree == "sha256" and store.keeps_sha256_tree else CHAIN_TREE


def checkpoint_publishers(
    js: JetStreamContext, store: LedgerStore, key: SigningKey, **options: Any
) -> list[CheckpointPublisher]:
    """The chain's checkpoint publisher and, on a chain that keeps a SHA-256 tree (gm), that
    tree's beside it (same key, same options): each tree is its own log to the witnesses."""
    trees = [CHAIN_TREE, SHA256_TREE] if store.keeps_sha256_tree else [CHAIN_TREE]
    return [CheckpointPublisher(js, store, key, tree=tree, **options) for tree in trees]


async def run_publishers(publishers: list[CheckpointPublisher], stop: asyncio.Event) -> None:
    """Run every publisher until ``stop`` (none of them ever raises but on cancellation)."""
    await asyncio.gather(*(publisher.run(stop) for publisher in publishers))


async def newest_checkpoint(
    js: JetStreamContext, names: ChainNames = DEFAULT, tree: CheckpointedTree = CHAIN_TREE
) -> dict[str, Any] | None:
    """The newest record of ``tree`` on the chain's stream CHECKPOINTS, or None when none was
    published yet (or the stream does not exist yet)."""
    try:
        msg = await js.get_last_msg(names.checkpoints_stream, tree.subject(names))
    except NotFoundError:
        return None
    return dict(json.loads(msg.data or b""))


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
