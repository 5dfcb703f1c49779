"""Typed fast paths of the ledger's intake: a batch envelope or an event exactly as the SDK
writes it, opened without a pydantic validation, model dump or re-encoding per event.

The reference readers (:func:`govchain.protocol.batch.open_batch`,
:func:`govchain.protocol.envelope.parse_event`) cost about 30 µs per batched event: the
duplicate-key hook in Python over every object, one model validation per event, a model
dump and a canonical encoding of each, a model copy to attach the proof. The SDK always
publishes RFC 8785 bytes (``EventBatch.to_bytes``, ``Envelope.to_bytes``), and that is
what these functions take: they parse with the C decoder (no hook), check every field by
exact type and pattern, write each event's canonical bytes directly (fixed sorted keys,
identifiers that need no escaping, ``data`` through the C encoder, which writes JCS for
plain JSON: see :mod:`govchain.protocol.canonical`), and then require the message to be
exactly the canonical encoding of what was read. That one comparison also settles what the
hook checked: a duplicate key, a space, another escape or number spelling makes the bytes
differ. Anything else, valid or not, returns None and goes to the reference reader, which
accepts or refuses it as before: a fast path may only be narrower, never more lenient, and
must give the same envelopes and bytes. ``tests/unit/test_intake_fastpath.py`` holds each
equal to its reference on random and mutated input.
"""

from __future__ import annotations

import json
import operator
import re
from typing import Any, NamedTuple

from govchain.crypto import CryptoSuite
from govchain.protocol.batch import MAX_BATCH_BYTES, EventBatch
from govchain.protocol.batchproof import MAX_BATCH_EVENTS, BatchProof
from govchain.protocol.canonical import plain_within
from govchain.protocol.envelope import (
    MAX_EVENT_BYTES,
    MAX_LEAF_BYTES,
    CanonicalForms,
    Envelope,
)
from govchain.protocol.eventtime import parse_rfc3339
from govchain.protocol.fastjson import (
    HEX64,
    HEX128,
    ID,
    MEMO_LIMIT,
    PRINCIPAL,
    TYPE,
    construct,
    encode_plain,
    encode_string,
    matched,
    subject_member,
)
from govchain.protocol.jsontext import MAX_EVENT_DEPTH
from govchain.protocol.merkle import leaf_hasher, node_hash
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.verify import _open_fast  # the reader of the signed normal form, shared

Opened = tuple[Envelope, CanonicalForms]


_BATCH_KEYS = frozenset(("events", "signature", "signer", "source"))
_UNSIGNED = frozenset(
    ("specversion", "id", "source", "type", "schemaversion", "time", "datacontenttype", "data", "signer")
)
_FIELDS = operator.itemgetter(
    "data", "datacontenttype", "id", "schemaversion", "signer", "source", "specversion", "time", "type"
)
_UNSIGNED_SHAPES = {_UNSIGNED: False, _UNSIGNED | {"subject"}: True}
"""The key sets of a batch member as the SDK writes it (``Envelope.unsigned_dict``): has subject?"""


_decode = json.JSONDecoder().decode
"""The C decoder without hooks: duplicate keys, NaN and number spellings are caught by the
canonical comparison (or the plain-JSON check) after it, not during it."""

_new = object.__new__
_set = object.__setattr__
"""Per event, the steps of :func:`govchain.protocol.fastjson.construct` written out in the loop."""


_GOOD: dict[re.Pattern[str], set[str]] = {}
"""Per pattern, the values that matched it before (:func:`govchain.protocol.fastjson.matched`)."""


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    if type(value) is not str:
        return False
    good = _GOOD.setdefault(pattern, set())
    return value in good or matched(pattern, value, good)


_BATCHABLE_TYPES: set[str] = set()
"""Type names that matched ``TYPE_PATTERN`` and change no chain state (so may be batched)."""


def _batchable_type(value: object) -> bool:
    if type(value) is not str:
        return False
    if value in _BATCHABLE_TYPES:
        return True
    if not TYPE.fullmatch(value) or EVENT_TYPES.any_version_changes_state(value):
        return False
    if len(_BATCHABLE_TYPES) >= MEMO_LIMIT:
        _BATCHABLE_TYPES.clear()
    _BATCHABLE_TYPES.add(value)
    return True


def tree_paths(leaf_hashes: list[bytes], suite: CryptoSuite | None = None) -> tuple[bytes, list[list[str]]]:
    """The root of a batch tree and each leaf's inclusion path as hex strings: what
    :func:`~govchain.protocol.merkle.all_inclusion_proofs` gives, level by level instead of by
    recursion, each node turned to hex once (RFC 9162's tree is the pairwise one in which a
    trailing odd node rises unchanged, so a leaf's path is its siblings from the bottom up,
    skipping the levels where it has none)."""
    node_hash = _node_hasher(suite)
    size = len(leaf_hashes)
    paths: list[list[str]] = [[] for _ in range(size)]
    level = leaf_hashes
    span = 1  # leaves under each node of this level
    while len(level) > 1:
        hexes = [node.hex() for node in level]
        count = len(level)
        for index in range(count):
            sibling = index ^ 1
            if sibling < count:
                text = hexes[sibling]
                for leaf in range(index * span, min((index + 1) * span, size)):
                    paths[leaf].append(text)
        parents = [node_hash(level[i], level[i + 1]) for i in range(0, count - 1, 2)]
        if count % 2:
            parents.append(level[-1])
        level = parents
        span *= 2
    return level[0], paths


def _node_hasher(suite: CryptoSuite | None) -> Any:
    return node_hash if suite is None else suite.node_hash


class OpenedEvent(NamedTuple):
    """One event of a batch opened by :func:`open_batch_parts`."""

    envelope: Envelope
    signing: bytes
    """RFC 8785 of the event without its proof: what the batch tree's leaf hashes."""
    signed: bytes
    """RFC 8785 of the event with its ``batchproof``: the block's leaf bytes."""
    record: dict[str, Any]
    """The event as the block stores it (``signed`` as a JSON object)."""


def open_batch_parts(
    raw: bytes, suite: CryptoSuite | None = None
) -> tuple[EventBatch, bytes, list[OpenedEvent]] | None:
    """The batch, its root and its events, as :func:`open_batch_fast` gives them, without a
    :class:`CanonicalForms` per event (the orderer's intake builds its own record of each)."""
    if len(raw) > MAX_BATCH_BYTES:
        return None
    try:
        value = _decode(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if type(value) is not dict or value.keys() != _BATCH_KEYS:
        return None
    source, signer, signature, events = value["source"], value["signer"], value["signature"], value["events"]
    if not (
        _matches(PRINCIPAL, source)
        and _matches(HEX64, signer)
        and _matches(HEX128, signature)
        and type(events) is list
        and 1 <= len(events) <= MAX_BATCH_EVENTS
    ):
        return None
    seen: set[str] = set()
    signings: list[bytes] = []
    fields = _FIELDS
    try:
        for event in events:
            if type(event) is not dict:
                return None
            has_subject = _UNSIGNED_SHAPES.get(frozenset(event))
            if has_subject is None:
                return None
            data, content_type, event_id, version, event_signer, event_source, spec, when, event_type = fields(event)
            if not (
                event_source == source
                and type(event_source) is str
                and event_signer == signer
                and type(event_signer) is str
                and spec == "1.0"
                and type(spec) is str
                and content_type == "application/json"
                and type(content_type) is str
                and type(event_id) is str
                and ID.fullmatch(event_id)
                and event_id not in seen
                and _batchable_type(event_type)
                and type(version) is int
                and 1 <= version <= 1000
                and type(data) is dict
                and plain_within(data, MAX_EVENT_DEPTH - 1)  # the event is level 1, its data level 2
                and type(when) is str
                and "\n" not in when
            ):
                return None
            seen.add(event_id)
            parse_rfc3339(when)  # the envelope's own check of its time (ValueError: not one)
            subject_json = subject_member(event, has_subject)
            if subject_json is None:
                return None
            signings.append(
                (
                    f'{{"data":{encode_plain(data)},"datacontenttype":"application/json","id":"{event_id}",'
                    f'"schemaversion":{version},"signer":"{signer}","source":"{source}","specversion":"1.0",'
                    f'{subject_json}"time":{encode_string(when)},"type":"{event_type}"}}'
                ).encode()
            )
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):  # a lone surrogate, no JSON, no time
        return None
    canonical = b'{"events":[%s],"signature":"%s","signer":"%s","source":"%s"}' % (
        b",".join(signings),
        signature.encode(),
        signer.encode(),
        source.encode(),
    )
    if canonical != raw:
        return None
    hash_leaf = leaf_hasher(suite)
    root, paths = tree_paths([hash_leaf(body) for body in signings], suite)
    size = len(events)
    signature_bytes = signature.encode()
    proof_fields = {"index", "size", "path", "signature"}
    opened: list[OpenedEvent] = []
    for index, (event, signing, hex_path) in enumerate(zip(events, signings, paths, strict=True)):
        signed = b'{"batchproof":{"index":%d,"path":[%s],"signature":"%s","size":%d},%s' % (
            index,
            ('"' + '","'.join(hex_path) + '"').encode() if hex_path else b"",
            signature_bytes,
            size,
            signing[1:],
        )
        if len(signed) > MAX_LEAF_BYTES:  # the reference refuses the batch (oversized)
            return None
        proof = _new(BatchProof)
        _set(proof, "__dict__", {"index": index, "size": size, "path": hex_path, "signature": signature})
        _set(proof, "__pydantic_fields_set__", proof_fields.copy())
        _set(proof, "__pydantic_extra__", None)
        _set(proof, "__pydantic_private__", None)
        data = event["data"]
        subject = event.get("subject")
        record = {
            "specversion": "1.0",
            "id": event["id"],
            "source": source,
            "type": event["type"],
            "schemaversion": event["schemaversion"],
            "time": event["time"],
            "datacontenttype": "application/json",
            "data": data,
            "signer": signer,
            "batchproof": {"index": index, "path": list(hex_path), "signature": signature, "size": size},
        }
        if subject is not None:
            record["subject"] = subject
        envelope = _new(Envelope)
        _set(
            envelope,
            "__dict__",
            {
                "specversion": "1.0",
                "id": record["id"],
                "source": source,
                "type": record["type"],
                "schemaversion": record["schemaversion"],
                "subject": subject,
                "time": record["time"],
                "datacontenttype": "application/json",
                "data": dict(data),
                "signer": signer,
                "signature": None,
                "batchproof": proof,
            },
        )
        _set(envelope, "__pydantic_fields_set__", {*event, "batchproof"})
        _set(envelope, "__pydantic_extra__", None)
        _set(envelope, "__pydantic_private__", None)
        opened.append(OpenedEvent(envelope, signing, signed, record))
    batch = construct(
        EventBatch,
        {"source": source, "signer": signer, "signature": signature, "events": events},
        set(_BATCH_KEYS),
    )
    return batch, root, opened


def open_batch_fast(raw: bytes, suite: CryptoSuite | None = None) -> tuple[EventBatch, list[Opened]] | None:
    """What :func:`~govchain.protocol.batch.open_batch` gives for ``raw``, when ``raw`` is a
    batch it accepts written exactly as the SDK writes one (RFC 8785); else None (the
    reference then decides, and words any refusal)."""
    parts = open_batch_parts(raw, suite)
    if parts is None:
        return None
    batch, root, opened = parts
    return batch, [(e.envelope, CanonicalForms(e.signing, e.signed, e.record, root)) for e in opened]


def open_event_fast(raw: bytes) -> Opened | None:
    """What :func:`~govchain.protocol.envelope.parse_event` gives for ``raw``, when ``raw`` is
    an event it accepts in the signed normal form the SDK writes (RFC 8785); else None."""
    if len(raw) > MAX_EVENT_BYTES:
        return None
    try:
        value = _decode(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if type(value) is not dict or not plain_within(value, MAX_EVENT_DEPTH):
        return None
    opened = _open_fast(value)
    if opened is None:
        return None
    envelope, signing, signed = opened
    if signed != raw or len(signed) > MAX_LEAF_BYTES:
        return None
    record = dict(value)
    record["data"] = dict(value["data"])
    if "batchproof" in record:
        record["batchproof"] = dict(record["batchproof"])
    return envelope, CanonicalForms(signing, signed, record)
