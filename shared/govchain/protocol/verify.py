"""Block-by-block chain verification, shared by projections, downstream systems and auditors.

A :class:`ChainVerifier` accepts block h only if it links to block h-1, its Merkle roots
recompute, its header hash recomputes, and an orderer key valid as of the chain signed it.
With ``check_events`` it also re-validates every event against the chain state before it,
which is what an auditor runs; projections may skip that and trust the orderer's signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from govchain.crypto import DEFAULT_SUITE, SUITE_NAMES, CryptoError, CryptoSuite, keeps_sha256_tree, suite_by_name
from govchain.protocol import events as ev
from govchain.protocol.batchproof import MAX_BATCH_EVENTS, BatchProof
from govchain.protocol.block import ZERO_HASH, Block, BlockHeader
from govchain.protocol.canonical import (
    _is_plain,  # noqa: PLC2701 - the same rule, for the payload
    canonical_bytes,
)
from govchain.protocol.envelope import Envelope
from govchain.protocol.errors import (
    BlockVerificationError,
    CanonicalizationError,
    EventRejected,
)
from govchain.protocol.eventref import EventKey
from govchain.protocol.eventtime import parse_rfc3339
from govchain.protocol.fastjson import (
    HEX64,
    HEX128,
    ID,
    PRINCIPAL,
    TYPE,
    construct,
    encode_plain,
    matched,
    subject_member,
)
from govchain.protocol.merkle import Frontier, Node, all_inclusion_proofs, extended, leaf_hash, root_from_leaf_hashes
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event


@dataclass(slots=True)
class VerifiedBlock:
    """A block that passed verification, with the derived facts a projection stores."""

    block: Block
    envelopes: list[Envelope]
    leaf_hashes: list[bytes]
    first_leaf_index: int
    state_changed: bool
    new_nodes: list[Node]
    """Perfect-subtree nodes the block's leaves completed: what a proof store persists."""
    state: ChainState
    """The chain state after this block (read-only for projections: the verifier owns it)."""
    sha256_nodes: list[Node] = field(default_factory=list)
    """On a chain that keeps a SHA-256 tree beside its own (gm): the nodes the block's leaves
    completed in it (the ledger stores them for SHA-256 proofs and tiles); empty otherwise."""
    sha256_leaf_hashes: list[bytes] = field(default_factory=list)
    """On such a chain: the block's leaves in that tree (a checkpoint of it may end mid-block)."""


@dataclass(slots=True)
class Checkpoint:
    """Everything a verifier needs to resume after block ``height`` without replaying the chain."""

    height: int
    block_hash: str
    log: Frontier
    state: ChainState
    sha256_log: Frontier | None = None
    """The SHA-256 tree over the same leaves, on a chain that keeps one (gm); None otherwise."""

    def to_json(self) -> dict[str, Any]:
        value = {
            "height": self.height,
            "block_hash": self.block_hash,
            "log_size": self.log.size,
            "log": self.log.to_json(),
            "state": self.state.to_json(),
        }
        if self.sha256_log is not None:  # absent on intl: its checkpoints read and write as before
            value["sha256_log"] = self.sha256_log.to_json()
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Checkpoint:
        state = ChainState.from_json(value["state"])
        sha256_log = value.get("sha256_log")
        return cls(
            height=value["height"],
            block_hash=value["block_hash"],
            log=Frontier.from_json(value["log_size"], value["log"], state.suite),
            state=state,
            sha256_log=None if sha256_log is None else Frontier.from_json(value["log_size"], sha256_log),
        )


@dataclass
class ChainVerifier:
    genesis_hash: str | None = None
    """Pin of block 0's hash (the trust anchor); when None, block 0 is trusted on first use."""
    check_events: bool = False
    checkpoint: Checkpoint | None = None
    _seen_ids: set[EventKey] = field(default_factory=set)
    """(source, id) of every event so far, when ``check_events``: each may be included once."""

    @property
    def height(self) -> int:
        return -1 if self.checkpoint is None else self.checkpoint.height

    @property
    def state(self) -> ChainState | None:
        return None if self.checkpoint is None else self.checkpoint.state

    def verify(self, block: Block) -> VerifiedBlock:
        """Verify ``block`` as the next block and advance; raise :class:`BlockVerificationError`."""
        height = block.header.height
        fail = _Fail(self.height + 1)  # where the chain breaks, whatever the block claims
        if height != self.height + 1:
            raise fail(f"the block claims height {height}")
        previous = self.checkpoint
        suite = _genesis_suite(block, fail) if previous is None else previous.state.suite
        try:
            header_hash = block.header.block_hash(suite)
        except CanonicalizationError as exc:  # e.g. a number beyond 2**53 in the header
            raise fail(f"the header has no canonical form: {exc}") from exc
        if header_hash != block.hash:
            raise fail("header hash does not match the block hash (header altered)")
        envelopes, leaves, sha256_leaves, signing = _open_events(block.events, fail, suite)
        if block.header.event_count != len(leaves):
            raise fail(f"header counts {block.header.event_count} events, block has {len(leaves)}")
        if root_from_leaf_hashes(leaves, suite).hex() != block.header.events_root:
            raise fail("events Merkle root does not match the events (events altered)")

        if previous is None:
            genesis_state = self._begin(block, envelopes, fail)
        else:
            self._check_link(block.header, previous, fail)
        log = previous.log.copy() if previous is not None else Frontier(suite=suite)
        first_leaf = log.size
        new_nodes = [node for leaf in leaves for node in log.append(leaf)]
        if log.size != block.header.log_size or log.root().hex() != block.header.log_root:
            raise fail("log root does not match the log after this block")
        sha256_log, sha256_nodes = _extend_sha256_log(block.header, previous, sha256_leaves, suite, fail)

        new_ids: set[EventKey] = set()
        if previous is None:
            state = genesis_state
            self._check_signature(block, state, fail)
            state_changed = True
        else:
            # The orderer key must be valid as of the chain before this block (so a revoked
            # key signs nothing more), and a block that fails leaves the verifier unchanged:
            # state-changing events are applied to a copy of the state.
            state = previous.state
            earlier_height, state.height = state.height, height
            try:
                self._check_signature(block, state, fail)
                if any(EVENT_TYPES.changes_state(e.type, e.schemaversion) for e in envelopes):
                    state = state.copy()
                roots = _batch_roots(envelopes, signing, suite) if self.check_events else {}
                state_changed = self._apply_events(state, envelopes, signing, roots, block.header.time, new_ids, fail)
            except BlockVerificationError:
                previous.state.height = earlier_height
                raise

        self._seen_ids |= new_ids
        self.checkpoint = Checkpoint(height, block.hash, log, state, sha256_log)
        return VerifiedBlock(
            block, envelopes, leaves, first_leaf, state_changed, new_nodes, state, sha256_nodes, sha256_leaves
        )

    def _begin(self, block: Block, envelopes: list[Envelope], fail: _Fail) -> ChainState:
        header = block.header
        if self.genesis_hash is not None and block.hash != self.genesis_hash:
            raise fail(f"genesis hash {block.hash} is not the pinned {self.genesis_hash}")
        if header.prev_hash != ZERO_HASH or len(envelopes) != 1:
            raise fail("genesis must link to the zero hash and hold exactly the genesis event")
        genesis = envelopes[0]
        if genesis.type != "chain.genesis" or genesis.source != ev.ROOT:
            raise fail("the genesis block does not carry a chain.genesis event from root")
        try:
            payload = ev.ChainGenesis.model_validate(genesis.data)
        except ValidationError as exc:
            raise fail(f"invalid genesis payload: {exc.error_count()} error(s)") from exc
        state = ChainState.from_genesis(payload)
        if state.chain_id != header.chain_id:
            raise fail("genesis chain id differs from the header's")
        root = state.keys.get(genesis.signer)
        if root is None or root.owner != ev.ROOT or not genesis.has_valid_signature(root.public_key):
            raise fail("genesis event is not signed by a root key it names")
        self._seen_ids.add(EventKey(genesis.source, genesis.id))
        return state

    @staticmethod
    def _check_link(header: BlockHeader, checkpoint: Checkpoint, fail: _Fail) -> None:
        if header.chain_id != checkpoint.state.chain_id:
            raise fail(f"block of chain {header.chain_id}, expected {checkpoint.state.chain_id}")
        if header.prev_hash != checkpoint.block_hash:
            raise fail("previous-hash link is broken")

    @staticmethod
    def _check_signature(block: Block, state: ChainState, fail: _Fail) -> None:
        record = state.keys.get(block.header.orderer)
        if record is None or record.owner != ev.LEDGER:
            raise fail(f"block signed by {block.header.orderer}, which is no orderer key")
        if not record.usable_at(block.header.height):
            raise fail(f"block signed by {block.header.orderer}, a revoked or rotated-out orderer key")
        if not block.has_valid_signature(record.public_key):
            raise fail("orderer signature does not verify")

    def _apply_events(
        self,
        state: ChainState,
        envelopes: list[Envelope],
        signing: list[bytes | None],
        roots: dict[int, bytes],
        block_time: str,
        new_ids: set[EventKey],
        fail: _Fail,
    ) -> bool:
        """``signing[i]``, when not None, is event i's signing bytes; ``roots[i]`` the root its
        batch proof leads to, derived once for its whole batch (see :func:`_batch_roots`)."""
        changed = False
        for index, envelope in enumerate(envelopes):
            stateful = EVENT_TYPES.changes_state(envelope.type, envelope.schemaversion)
            if not (self.check_events or stateful):
                continue
            try:
                payload = validate_event(
                    state, envelope, signing[index], batch_root=roots.get(index), block_time=block_time
                )
            except EventRejected as exc:
                raise fail(f"event {index} ({envelope.id}) is invalid: {exc}") from exc
            if self.check_events:
                key = EventKey(envelope.source, envelope.id)
                if key in self._seen_ids or key in new_ids:
                    raise fail(f"event {key} is included twice")
                new_ids.add(key)
            if stateful:
                apply_event(state, envelope, payload)
                changed = True
        return changed


class _Fail:
    """Makes the verification error of one block height."""

    def __init__(self, height: int) -> None:
        self.height = height

    def __call__(self, detail: str) -> BlockVerificationError:
        return BlockVerificationError(self.height, detail)


def _parse_event(event: dict[str, Any], index: int, fail: _Fail) -> Envelope:
    """The reference reading of one stored event: the envelope model, which must give back
    exactly the stored object (its signed normal form: otherwise a leaf would commit to bytes
    other than the ones the signature covers)."""
    try:
        envelope = Envelope.model_validate(event)
    except ValidationError as exc:
        raise fail(f"event {index} is not a well-formed envelope") from exc
    if not envelope.is_signed or envelope.to_dict() != event:
        raise fail(f"event {index} is not stored in its signed normal form")
    return envelope


def _extend_sha256_log(
    header: BlockHeader, previous: Checkpoint | None, leaves: list[bytes], suite: CryptoSuite, fail: _Fail
) -> tuple[Frontier | None, list[Node]]:
    """The SHA-256 tree a gm chain keeps beside its own (:func:`~govchain.crypto.keeps_sha256_tree`),
    extended by the block's SHA-256 ``leaves`` and checked against the header's ``log_root_sha256``:
    the root its C2SP checkpoints carry, bound to the orderer's signature. (None, []) on a chain
    without one, whose headers must not carry that root."""
    if not keeps_sha256_tree(suite):
        if header.log_root_sha256 is not None:
            raise fail(f"the header carries a SHA-256 log root, which a {suite.name} chain has not")
        return None, []
    before = Frontier() if previous is None else previous.sha256_log
    if before is None:
        raise fail("the checkpoint holds no SHA-256 log to extend; verify this chain from genesis")
    after, nodes = extended(before, leaves)
    if header.log_root_sha256 != after.root().hex():
        raise fail("SHA-256 log root does not match the log after this block (log_root_sha256 altered)")
    return after, nodes


def _genesis_suite(block: Block, fail: _Fail) -> CryptoSuite:
    """The suite block 0's genesis event names, read before anything is hashed: a genesis block
    is hashed in its own chain's suite. Whether that event is a valid genesis is judged after
    (:meth:`ChainVerifier._begin`); here only its type and the name, intl when there is none."""
    first = block.events[0] if block.events else None
    if type(first) is not dict or first.get("type") != "chain.genesis":
        raise fail("the genesis block does not carry a chain.genesis event from root")
    data = first.get("data")
    name = data.get("crypto_profile", DEFAULT_SUITE) if type(data) is dict else DEFAULT_SUITE
    if name not in SUITE_NAMES:
        raise fail(f"genesis names an unknown crypto profile {str(name)[:40]!r}")
    try:
        return suite_by_name(name)
    except CryptoError as exc:  # the gm backend missing on this machine
        raise fail(f"cannot verify a {name} chain here: {exc}") from exc


def _open_events(
    events: list[dict[str, Any]], fail: _Fail, suite: CryptoSuite
) -> tuple[list[Envelope], list[bytes], list[bytes], list[bytes | None]]:
    """Each event's envelope, leaf hash, SHA-256 leaf hash (only on a chain that keeps a SHA-256
    tree: otherwise that list is empty) and (where it came cheaply) signing bytes.

    An event in the normal form the orderer writes is opened by :func:`_open_fast`; any other
    goes through :func:`_parse_event`, which accepts or refuses it as before. As before, every
    event is parsed before any leaf of a reference-path event is canonicalised, so a block
    that breaks both ways is reported by its first malformed event."""
    envelopes: list[Envelope] = []
    signed: list[bytes | None] = []
    signing: list[bytes | None] = []
    for index, event in enumerate(events):
        opened = _open_fast(event)
        if opened is None:
            envelopes.append(_parse_event(event, index, fail))
            signed.append(None)
            signing.append(None)
        else:
            envelopes.append(opened[0])
            signing.append(opened[1])
            signed.append(opened[2])
    leaves = []
    sha256_leaves = []
    hash_leaf = suite.leaf_hash
    sha256_too = keeps_sha256_tree(suite)
    for event, leaf_bytes in zip(events, signed, strict=True):
        if leaf_bytes is None:
            try:
                leaf_bytes = canonical_bytes(event)
            except CanonicalizationError as exc:
                raise fail(str(exc)) from exc
        leaves.append(hash_leaf(leaf_bytes))
        if sha256_too:
            sha256_leaves.append(leaf_hash(leaf_bytes))
    return envelopes, leaves, sha256_leaves, signing


# --------------------------------------------------------------------------- the fast path
#
# Reading an event the reference way costs a pydantic validation, two model dumps and a
# canonical encoding of the whole envelope (about 25 µs). An event exactly in the form the
# orderer stores (every attribute of its exact JSON type, identifiers matching their
# patterns, ``data`` of plain JSON) is accepted by that path, and the envelope it yields is
# the one built here from the same values. Its RFC 8785 bytes are written directly: the
# envelope's keys are fixed and their sorted order known, the identifiers and the time need
# no escaping (their patterns allow none), and ``data`` goes through the C encoder, which
# writes JCS for plain JSON (see govchain.protocol.canonical). Anything else returns None and
# takes the reference path, so the fast path can only be narrower, never more lenient;
# tests/unit/test_verify_fastpath.py holds the two equal.

_REQUIRED = frozenset(
    ("specversion", "id", "source", "type", "schemaversion", "time", "datacontenttype", "data", "signer")
)
_SHAPES = {
    _REQUIRED | {"signature"}: (False, False),
    _REQUIRED | {"batchproof"}: (True, False),
    _REQUIRED | {"signature", "subject"}: (False, True),
    _REQUIRED | {"batchproof", "subject"}: (True, True),
}
_PROOF_KEYS = frozenset(("index", "path", "signature", "size"))


def _open_fast(event: dict[str, Any]) -> tuple[Envelope, bytes, bytes] | None:
    """(envelope, signing bytes, signed bytes) of an event in the orderer's normal form, or
    None when the reference path must judge it (see the section comment)."""
    if type(event) is not dict:
        return None
    try:
        return _open_normal_form(event)
    except RecursionError:  # a payload nesting beyond Python's stack: the reference refuses it
        return None


def _open_normal_form(event: dict[str, Any]) -> tuple[Envelope, bytes, bytes] | None:
    shape = _SHAPES.get(frozenset(event))
    if shape is None:
        return None
    batched, has_subject = shape
    event_id, source, event_type, version = event["id"], event["source"], event["type"], event["schemaversion"]
    signer, when, data = event["signer"], event["time"], event["data"]
    if not (
        event["specversion"] == "1.0"
        and type(event["specversion"]) is str
        and event["datacontenttype"] == "application/json"
        and type(event["datacontenttype"]) is str
        and type(event_id) is str
        and ID.fullmatch(event_id)
        and type(source) is str
        and (source in _GOOD_PRINCIPALS or matched(PRINCIPAL, source, _GOOD_PRINCIPALS))
        and type(event_type) is str
        and (event_type in _GOOD_TYPES or matched(TYPE, event_type, _GOOD_TYPES))
        and type(version) is int
        and 1 <= version <= 1000
        and type(signer) is str
        and (signer in _GOOD_KEY_IDS or matched(HEX64, signer, _GOOD_KEY_IDS))
        and type(when) is str
        and type(data) is dict
        and _is_plain(data)
    ):
        return None
    subject_json = subject_member(event, has_subject)
    if subject_json is None:
        return None
    try:
        parse_rfc3339(when)  # its pattern leaves digits, "-:.+TZ" and a final newline, never escaped
        if "\n" in when:
            return None
        data_json = encode_plain(data)
    except (ValueError, TypeError, RecursionError):
        return None
    tail = (
        f'"signer":"{signer}","source":"{source}","specversion":"1.0",{subject_json}'
        f'"time":"{when}","type":"{event_type}"}}'
    )
    head = f'{{"data":{data_json},"datacontenttype":"application/json","id":"{event_id}","schemaversion":{version},'
    proof: BatchProof | None = None
    signature: str | None = None
    try:
        signing = (head + tail).encode()
        if batched:
            raw_proof = event["batchproof"]
            if type(raw_proof) is not dict or raw_proof.keys() != _PROOF_KEYS:
                return None
            index, size, path, proof_signature = (
                raw_proof["index"],
                raw_proof["size"],
                raw_proof["path"],
                raw_proof["signature"],
            )
            if not (
                type(index) is int
                and type(size) is int
                and 0 <= index < size <= MAX_BATCH_EVENTS
                and type(path) is list
                and len(path) <= 10
                and type(proof_signature) is str
                and (proof_signature in _GOOD_SIGNATURES or matched(HEX128, proof_signature, _GOOD_SIGNATURES))
            ):
                return None
            if path:  # each node 64 lowercase hex digits: fromhex refuses non-hex, the length check spaces
                if set(map(type, path)) != _STR or set(map(len, path)) != _LEN64:
                    return None
                joined = "".join(path)
                if len(bytes.fromhex(joined)) != 32 * len(path) or joined != joined.lower():
                    return None
                nodes = '"' + '","'.join(path) + '"'
            else:
                nodes = ""
            proof = construct(
                BatchProof,
                {"index": index, "size": size, "path": list(path), "signature": proof_signature},
                set(_PROOF_KEYS),
            )
            # BatchProof.to_bytes, written out here with the path already joined
            proof_json = f'{{"index":{index},"path":[{nodes}],"signature":"{proof_signature}","size":{size}}}'
            signed = b'{"batchproof":' + proof_json.encode() + b"," + signing[1:]
        else:
            signature = event["signature"]
            if type(signature) is not str or not HEX128.fullmatch(signature):
                return None
            signed = (head + f'"signature":"{signature}",' + tail).encode()
    except (UnicodeEncodeError, ValueError):  # a lone surrogate (the reference refuses it), or no hex
        return None
    envelope = construct(
        Envelope,
        {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": event_type,
            "schemaversion": version,
            "subject": event.get("subject"),
            "time": when,
            "datacontenttype": "application/json",
            "data": dict(data),
            "signer": signer,
            "signature": signature,
            "batchproof": proof,
        },
        set(event),
    )
    return envelope, signing, signed


_STR = {str}
_LEN64 = {64}
_GOOD_PRINCIPALS: set[str] = set()
_GOOD_TYPES: set[str] = set()
_GOOD_KEY_IDS: set[str] = set()
_GOOD_SIGNATURES: set[str] = set()
"""Values that matched their pattern before (:func:`govchain.protocol.fastjson.matched`)."""


def _batch_roots(envelopes: list[Envelope], signing: list[bytes | None], suite: CryptoSuite) -> dict[int, bytes]:
    """For the events of each batch whose every event is in this block: the batch root each
    one's proof leads to, computed once for the batch instead of walking every path.

    A batch's tree is rebuilt from its events' signing bytes (ordered by proof index); an
    event gets that root only when its proof's path is exactly its path in that tree, and
    then walking the path (``BatchProof.root``) would give the same root. Events of batches
    split over blocks, or whose path differs, are left out: their proofs are walked as before."""
    batches: dict[tuple[str, str, int], dict[int, int]] = {}
    for position, envelope in enumerate(envelopes):
        proof = envelope.batchproof
        if proof is None or signing[position] is None:
            continue
        members = batches.setdefault((envelope.signer, proof.signature, proof.size), {})
        if proof.index in members:
            members[proof.index] = -1  # two events claim one place: leave the batch to the walk
        else:
            members[proof.index] = position
    roots: dict[int, bytes] = {}
    for (_, _, size), members in batches.items():
        if len(members) != size or -1 in members.values():
            continue
        order = [members[index] for index in range(size)]
        root, paths = all_inclusion_proofs([suite.leaf_hash(signing[p]) for p in order], suite)  # type: ignore[arg-type]
        for position, path in zip(order, paths, strict=True):
            proof = envelopes[position].batchproof
            assert proof is not None
            if "".join(proof.path) == b"".join(path).hex():
                roots[position] = root
    return roots
