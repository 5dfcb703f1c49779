"""NATS subjects and stream names: the wire contract every service and client shares."""

from __future__ import annotations

EVENTS_STREAM = "EVENTS"
REJECTED_STREAM = "REJECTED"
BLOCKS_STREAM = "BLOCKS"
CHECKPOINTS_STREAM = "CHECKPOINTS"
"""The ledger's witnessed checkpoints (c2sp.org/tlog-checkpoint notes), newest last: each one
signed by the orderer key and cosigned by at least the quorum of the on-chain witness policy."""

EVENTS_SUBJECTS = "gov.events.>"
REJECTED_SUBJECTS = "gov.rejected.>"
BLOCKS_SUBJECT = "gov.blocks"
CHECKPOINTS_SUBJECT = "gov.checkpoints"

LEDGER_RECEIPT = "gov.ledger.receipt"
LEDGER_PROOF = "gov.ledger.proof"
LEDGER_CONSISTENCY = "gov.ledger.consistency"
LEDGER_HEAD = "gov.ledger.head"
LEDGER_CHECKPOINT = "gov.ledger.checkpoint"
"""The newest witnessed checkpoint (the note, its size, height and witness policy)."""
LEDGER_TILE = "gov.ledger.tile"
"""A c2sp.org/tlog-tiles hash tile of the event log, read from the ledger's Merkle nodes."""
LEDGER_LEAVES = "gov.ledger.leaves"
"""Where a run of leaves (an entry bundle's) is: block height and position of each."""

IDENTITY_RESOLVE = "gov.identity.did.resolve"
IDENTITY_VERIFY_CREDENTIAL = "gov.identity.credential.verify"
IDENTITY_KEY = "gov.identity.key"
"""One key as the chain knows it, with its owner: the gateway checks signers with it."""

REGISTRY_BUSINESS = "gov.registry.business"
REGISTRY_BUSINESSES = "gov.registry.businesses"
REGISTRY_BUSINESSES_OF = "gov.registry.businesses_of"
"""The businesses one person owns, asked by that person (or an officer): what they may apply for."""
REGISTRY_PARCEL = "gov.registry.parcel"
REGISTRY_DOCUMENT = "gov.registry.document"
REGISTRY_DEPARTMENTS = "gov.registry.departments"
REGISTRY_CATALOG = "gov.registry.catalog"
REGISTRY_ACCESS_LOG = "gov.registry.access_log"
REGISTRY_SEAL = "gov.registry.seal"
REGISTRY_DATASET_READ = "gov.registry.dataset.read"
REGISTRY_GRANTS = "gov.registry.grants"

CONTRACT_CASE = "gov.contract.case"
CONTRACT_LIST = "gov.contract.list"
CONTRACT_AWAITING = "gov.contract.awaiting"
"""The open cases waiting on one department's approval (the officials' workbench queue)."""
CONTRACT_CASES_OF = "gov.contract.cases_of"
"""The cases one principal is a party to: moved by an event they signed, or naming them (newest first)."""

ANALYTICS_SUMMARY = "gov.analytics.summary"
ANALYTICS_CHART = "gov.analytics.chart"

ORDERER_CONSUMER = "ledger-orderer"


def inbox_prefix(user: str) -> str:
    """Where a NATS user's replies arrive (``_INBOX.<user>.<random>``). Each user may subscribe
    only under its own prefix, so no one reads another's answers, personal data included."""
    return f"_INBOX.{user}"


def event_subject(source: str, event_type: str) -> str:
    """``gov.events.<dept>.<type>``: NATS permissions can pin each department to its own prefix."""
    return f"gov.events.{source}.{event_type}"


BATCH_TOKEN = "_batch"
"""Last token of a batch envelope's subject; no event type can be it (types contain a dot)."""


def batch_subject(source: str) -> str:
    """``gov.events.<dept>._batch``: inside the department's own prefix, so its permissions hold."""
    return f"gov.events.{source}.{BATCH_TOKEN}"


def is_batch_subject(subject: str) -> bool:
    parts = subject.split(".")
    return len(parts) == 4 and parts[:2] == ["gov", "events"] and bool(parts[2]) and parts[3] == BATCH_TOKEN


def rejected_subject(source: str, event_id: str) -> str:
    """``gov.rejected.<dept>.<event id>``: one subject per event, so a receipt is one direct get."""
    return f"gov.rejected.{source}.{event_id}"


def split_event_subject(subject: str) -> tuple[str, str]:
    """The (department, type) an intake subject names; raises ValueError on another shape."""
    parts = subject.split(".", 3)
    if len(parts) != 4 or parts[:2] != ["gov", "events"] or not parts[2] or not parts[3]:
        raise ValueError(f"{subject!r} is not gov.events.<dept>.<type>")
    return parts[2], parts[3]


def block_sequence(height: int) -> int:
    """Block ``height`` is stream sequence ``height + 1`` of BLOCKS (the design card fixes this)."""
    return height + 1
