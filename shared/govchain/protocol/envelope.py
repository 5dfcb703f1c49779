"""The signed event envelope: CloudEvents 1.0 attributes plus ``signer`` and ``signature``.

The signature is Ed25519 over the RFC 8785 bytes of the envelope without ``signature``;
the Merkle leaf of an event is the RFC 8785 bytes of the whole signed envelope.

An event that arrived in a batch envelope (:mod:`govchain.protocol.batch`) carries a
``batchproof`` instead of a ``signature``: the batch's one signature and the event's path to
the root it signs. Its signing bytes are the same: the envelope without either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from govchain.protocol.batchproof import BatchProof
from govchain.protocol.canonical import canonical_bytes, sha256_hex
from govchain.protocol.errors import CanonicalizationError, EventRejected, RejectionReason
from govchain.protocol.eventtime import parse_rfc3339
from govchain.protocol.jsontext import MAX_EVENT_DEPTH, parse_json_object
from govchain.protocol.keys import PublicKey, SigningKey

# Ids, sources and type names travel inside NATS subjects and message ids, so they are
# restricted to subject-safe tokens.
EVENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
PRINCIPAL_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
HEX64_PATTERN = r"^[0-9a-f]{64}$"
MAX_SUBJECT = 256
"""The longest ``subject`` an event may carry (characters)."""

MAX_EVENT_BYTES = 256 * 1024
"""The most bytes an event may arrive as, checked before anything parses them."""
MAX_LEAF_BYTES = 0xFFFF
"""65,535 bytes: the most an event's leaf (the RFC 8785 bytes of the signed envelope, batch
proof included: what a block stores and the log hashes) may hold. A c2sp.org/tlog-tiles entry
bundle prefixes each leaf with a 16-bit length, so every event on chain fits a standard entry
bundle. Larger events are refused as ``oversized``."""


def utc_now() -> str:
    """The current time as an RFC 3339 UTC timestamp with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class CanonicalForms:
    """An envelope's two canonical byte strings, made from one dump of the model, and what
    else that dump gave: the hot path never encodes or hashes the same envelope twice."""

    signing: bytes
    """RFC 8785 of the envelope without ``signature``: what the signature covers."""
    signed: bytes
    """RFC 8785 of the signed envelope: the wire and leaf bytes."""
    record: dict[str, Any] | None = field(default=None, compare=False)
    """The signed envelope as the JSON object a block stores (``signed`` decoded)."""
    batch_root: bytes | None = field(default=None, compare=False)
    """For an event opened from a batch: the root its proof's path leads to, as derived."""


class Envelope(BaseModel):
    """A signed GovChain event. Frozen: a signed value must not change after signing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(pattern=EVENT_ID_PATTERN)
    source: str = Field(pattern=PRINCIPAL_PATTERN, description="publishing department or authority")
    type: str = Field(pattern=TYPE_PATTERN)
    schemaversion: int = Field(ge=1, le=1000, strict=True, description='a JSON integer: not 1.0, "1" or true')
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT)
    time: str
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    signer: str = Field(pattern=HEX64_PATTERN, description="key id of the signing key")
    signature: str | None = Field(default=None, pattern=r"^[0-9a-f]{128}$")
    batchproof: BatchProof | None = Field(default=None, description="the batch signature, instead of ``signature``")

    @field_validator("time")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parse_rfc3339(value)
        return value

    @model_validator(mode="after")
    def _one_signature(self) -> Envelope:
        if self.signature is not None and self.batchproof is not None:
            raise ValueError("an event carries a signature or a batch proof, not both")
        return self

    @property
    def is_signed(self) -> bool:
        return self.signature is not None or self.batchproof is not None

    def unsigned_dict(self) -> dict[str, Any]:
        """The envelope as the JSON object the signature covers (absent optionals omitted)."""
        body = self.model_dump(exclude={"signature", "batchproof"})
        if body["subject"] is None:
            del body["subject"]
        return body

    def _signed_dict(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.signature is not None:
            body["signature"] = self.signature
        elif self.batchproof is not None:
            body["batchproof"] = self.batchproof.model_dump()
        else:
            raise ValueError("envelope is not signed")
        return body

    def signing_bytes(self) -> bytes:
        return canonical_bytes(self.unsigned_dict())

    def to_dict(self) -> dict[str, Any]:
        """The signed envelope as a JSON object: what a block stores and a leaf hashes."""
        return self._signed_dict(self.unsigned_dict())

    def to_bytes(self) -> bytes:
        """Wire and leaf bytes: RFC 8785 of the signed envelope."""
        return canonical_bytes(self.to_dict())

    def canonical_forms(self) -> CanonicalForms:
        """Signing and signed bytes together, for the hot paths that need both."""
        body = self.unsigned_dict()
        signing = canonical_bytes(body)
        record = self._signed_dict(body)
        return CanonicalForms(signing, canonical_bytes(record), record)

    @property
    def ref(self) -> str:
        """``source/id``: this event's name on a chain (see :mod:`govchain.protocol.eventref`)."""
        return f"{self.source}/{self.id}"

    @property
    def msg_id(self) -> str:
        """``Nats-Msg-Id`` of this event: see :func:`event_msg_id`."""
        return event_msg_id(self.to_bytes())

    def signed_by(self, key: SigningKey) -> Envelope:
        unsigned = self.model_copy(update={"signer": key.key_id, "signature": None, "batchproof": None})
        return unsigned.model_copy(update={"signature": key.sign(unsigned.signing_bytes()).hex()})

    def has_valid_signature(
        self, public_key: PublicKey, signing_bytes: bytes | None = None, *, batch_root: bytes | None = None
    ) -> bool:
        """``signing_bytes``, when given, must be this envelope's own (from :meth:`canonical_forms`);
        ``batch_root``, when given, the root its batch proof leads to (as :func:`open_batch` derived it)."""
        if not self.is_signed or public_key.key_id != self.signer:
            return False
        message = self.signing_bytes() if signing_bytes is None else signing_bytes
        if self.batchproof is not None:
            return self.batchproof.verify(public_key, message, root=batch_root)
        assert self.signature is not None
        return public_key.verify(bytes.fromhex(self.signature), message)


def event_msg_id(signed: bytes) -> str:
    """The JetStream ``Nats-Msg-Id`` of an event: derived from its signed bytes.

    JetStream's de-duplication window is stream-wide and a header is whatever the publisher
    writes, so an id a publisher chooses could make the server drop another department's
    event as a "duplicate". A hash of the signed bytes cannot be known before the signer
    has signed, so only an identical re-send is de-duplicated."""
    return "ev-" + sha256_hex(signed)[:48]


def make_event(
    key: SigningKey,
    *,
    source: str,
    type: str,
    data: dict[str, Any],
    schemaversion: int = 1,
    subject: str | None = None,
    event_id: str | None = None,
    time: str | None = None,
) -> Envelope:
    """Build and sign an event: what a department's SDK does before publishing."""
    return Envelope(
        id=event_id or new_event_id(),
        source=source,
        type=type,
        schemaversion=schemaversion,
        subject=subject,
        time=time or utc_now(),
        data=data,
        signer=key.key_id,
    ).signed_by(key)


def parse_envelope(raw: bytes) -> Envelope:
    """Parse wire bytes into a signed envelope, or raise :class:`EventRejected`."""
    return parse_event(raw)[0]


def parse_event(raw: bytes) -> tuple[Envelope, CanonicalForms]:
    """:func:`parse_envelope`, also returning the canonical forms it had to compute anyway."""
    if len(raw) > MAX_EVENT_BYTES:
        raise EventRejected(RejectionReason.OVERSIZED, f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        envelope = Envelope.model_validate(parse_json_object(raw, what="event", max_depth=MAX_EVENT_DEPTH))
    except (ValueError, ValidationError) as exc:
        raise EventRejected(refusal_reason(exc), describe_error(exc)) from exc
    if not envelope.is_signed:
        raise EventRejected(RejectionReason.MALFORMED_ENVELOPE, "event is not signed")
    try:  # NaN, Infinity, integers beyond 2**53, lone surrogates: nothing could sign or hash it
        forms = envelope.canonical_forms()
    except CanonicalizationError as exc:
        raise EventRejected(RejectionReason.MALFORMED_ENVELOPE, str(exc)) from exc
    check_leaf_size(forms.signed)
    return envelope, forms


def check_leaf_size(signed: bytes) -> None:
    """Refuse (``oversized``) a leaf that would not fit an entry bundle (:data:`MAX_LEAF_BYTES`).

    Judged on the canonical form, not on the bytes that came: those may be longer (spaces) or
    shorter (``1e21`` is ``1e+21`` in RFC 8785)."""
    if len(signed) > MAX_LEAF_BYTES:
        raise EventRejected(
            RejectionReason.OVERSIZED,
            f"event is {len(signed)} bytes in canonical form; the limit is {MAX_LEAF_BYTES} (one tlog entry)",
        )


def refusal_reason(exc: Exception) -> RejectionReason:
    """``invalid_time`` when an envelope's only fault is its time; else ``malformed_envelope``."""
    if isinstance(exc, ValidationError) and all(error["loc"][-1:] == ("time",) for error in exc.errors()):
        return RejectionReason.INVALID_TIME
    return RejectionReason.MALFORMED_ENVELOPE


def describe_error(exc: Exception) -> str:
    """The first validation problem, where it is and how many there are: a rejection's detail."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "envelope"
        return f"{where}: {first['msg']} ({exc.error_count()} error(s))"
    return str(exc)


# --------------------------------------------------------------------------- CloudEvents 1.0
#
# A GovChain envelope stores an event that arrived in a batch with ``batchproof`` as a JSON
# object: that record is what blocks hold and leaves hash. CloudEvents 1.0 allows only its own
# type system for attributes (Boolean, Integer, String, Binary, URI, URI-reference,
# Timestamp; no maps), and a map-valued attribute has no binary-mode form (an SDK writes the
# Python repr of the dict into a ``ce-batchproof`` header). So the CloudEvents form of an
# event is made here, and every attribute in it is a CloudEvents type:
#
# - ``specversion``, ``id``, ``source`` (a URI-reference: the principal id), ``type``,
#   ``subject``, ``time`` (Timestamp), ``datacontenttype``: the envelope's own values;
# - ``data``: the payload, a JSON value (``datacontenttype`` is ``application/json``);
# - ``schemaversion``: Integer; ``signer``, ``signature``: String (lowercase hex);
# - ``batchproof``: Binary, written as its canonical string encoding, Base64 (RFC 4648 §4,
#   padded): the RFC 8785 bytes of the proof object ({"index", "path", "signature", "size"}).
#   One proof has exactly one encoding; :func:`from_cloudevent` refuses any other.
#
# The signature covers the envelope without ``signature``/``batchproof``, so it verifies the
# same in either form. Going back from a CloudEvent needs the attribute *text* the signer
# signed: a transport that re-renders ``time`` (an SDK parses it into a datetime) gives it
# back as GovChain writes times (UTC, microseconds, ``Z``); other renderings fail to verify.

import base64  # noqa: E402
import binascii  # noqa: E402
import re  # noqa: E402
from collections.abc import Mapping  # noqa: E402

CLOUDEVENT_EXTENSIONS = ("schemaversion", "signer", "signature", "batchproof")
"""The extension attributes a GovChain CloudEvent carries (lowercase, at most 20 characters)."""
_CE_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,9})")  # string encoding of a 32-bit Integer
MAX_CLOUDEVENT_BYTES = MAX_EVENT_BYTES + 2048
"""A CloudEvent's JSON may exceed its event's limit by the Base64 of a batch proof (< 1.5 KB)."""


def batchproof_attribute(proof: BatchProof) -> str:
    """The ``batchproof`` attribute of a CloudEvent: Base64 of the proof's RFC 8785 bytes."""
    return base64.b64encode(proof.to_bytes()).decode("ascii")


def batchproof_from_attribute(value: object) -> BatchProof:
    """The proof in a ``batchproof`` attribute; raises :class:`EventRejected` on anything else."""

    def refuse(why: str) -> EventRejected:
        return EventRejected(RejectionReason.MALFORMED_ENVELOPE, f"batchproof: {why}")

    if not isinstance(value, str) or len(value) > 4 * MAX_EVENT_BYTES:
        raise refuse("a CloudEvent carries it as one Base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise refuse("not Base64 (RFC 4648 §4)") from exc
    try:
        proof = BatchProof.model_validate(parse_json_object(raw, what="batchproof", max_depth=2))
    except (ValueError, ValidationError) as exc:
        raise refuse(describe_error(exc)) from exc
    if proof.to_bytes() != raw or batchproof_attribute(proof) != value:
        raise refuse("not the canonical encoding of the proof (RFC 8785 bytes, padded Base64)")
    return proof


def to_cloudevent(envelope: Envelope) -> dict[str, Any]:
    """The signed event as a CloudEvents 1.0 event in the JSON event format (structured mode).

    Every attribute is a CloudEvents type (see the section comment), so it maps onto any
    binding's binary mode too (``ce-`` HTTP headers, NATS or Kafka headers)."""
    if not envelope.is_signed:
        raise ValueError("envelope is not signed")
    event = envelope.unsigned_dict()
    if envelope.signature is not None:
        event["signature"] = envelope.signature
    else:
        assert envelope.batchproof is not None
        event["batchproof"] = batchproof_attribute(envelope.batchproof)
    return event


def from_cloudevent(event: Mapping[str, Any]) -> Envelope:
    """The signed envelope in a CloudEvent: its JSON form, or the attributes of a binary-mode
    message (each as its canonical string encoding) with ``data`` added by the caller.

    Attributes GovChain does not define are refused: the signature would not cover them.
    Raises :class:`EventRejected` (``malformed_envelope`` or ``invalid_time``). For bytes from
    outside use :func:`parse_cloudevent`, which bounds size and depth before parsing."""
    if not isinstance(event, Mapping):
        raise EventRejected(RejectionReason.MALFORMED_ENVELOPE, "a CloudEvent is a JSON object")
    body = dict(event)
    if "data_base64" in body:
        raise EventRejected(RejectionReason.MALFORMED_ENVELOPE, "data must be a JSON object, not data_base64")
    version = body.get("schemaversion")
    if isinstance(version, str) and _CE_INTEGER.fullmatch(version):  # an Integer's string encoding
        body["schemaversion"] = int(version)
    if isinstance(body.get("time"), datetime):  # a transport that parsed the Timestamp
        instant: datetime = body["time"]
        if instant.tzinfo is None:
            raise EventRejected(RejectionReason.INVALID_TIME, "time: a Timestamp has a time zone")
        text = instant.isoformat(timespec="microseconds")
        body["time"] = text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    if "batchproof" in body:
        body["batchproof"] = batchproof_from_attribute(body["batchproof"])
    try:
        envelope = Envelope.model_validate(body)
    except (ValueError, ValidationError) as exc:
        raise EventRejected(refusal_reason(exc), describe_error(exc)) from exc
    if not envelope.is_signed:
        raise EventRejected(RejectionReason.MALFORMED_ENVELOPE, "event is not signed")
    return envelope


def parse_cloudevent(raw: bytes) -> Envelope:
    """A structured-mode CloudEvent (``application/cloudevents+json``) from outside, read as
    strictly as :func:`parse_event` reads the native form; raises :class:`EventRejected`."""
    if len(raw) > MAX_CLOUDEVENT_BYTES:
        raise EventRejected(
            RejectionReason.OVERSIZED, f"CloudEvent is {len(raw)} bytes; the limit is {MAX_CLOUDEVENT_BYTES}"
        )
    try:
        event = parse_json_object(raw, what="CloudEvent", max_depth=MAX_EVENT_DEPTH)
    except ValueError as exc:
        raise EventRejected(RejectionReason.MALFORMED_ENVELOPE, describe_error(exc)) from exc
    envelope = from_cloudevent(event)
    try:  # integers beyond 2**53 and the like: nothing could have signed them
        forms = envelope.canonical_forms()
    except CanonicalizationError as exc:
        raise EventRejected(RejectionReason.MALFORMED_ENVELOPE, str(exc)) from exc
    check_leaf_size(forms.signed)
    return envelope
