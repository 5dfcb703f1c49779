"""NATS subjects and stream names: the wire contract every service and client shares.

Several independent chains (by region or by domain) may share one NATS cluster, each with its own
orderer. Their stream and subject names carry the chain id (:class:`ChainNames`): chain ``sh``
has streams ``EVENTS_sh``, ``BLOCKS_sh``, … and subjects ``gov-sh.events.<dept>.<type>``,
``gov-sh.ledger.proof``, …, so no stream, consumer, lease or question of one chain can reach
another's. The default chain (no id given) keeps the names below, so a chain deployed before
this needs no migration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govchain.protocol.errors import GovChainError

ROOT = "gov"
"""First token of every subject of the default chain."""

CHAIN_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""A chain id as ``govchain init --chain-id`` takes it: also a valid NATS token and stream-name part."""

BATCH_TOKEN = "_batch"
"""Last token of a batch envelope's subject; no event type can be it (types contain a dot)."""

ORDERER_CONSUMER = "ledger-orderer"
"""The orderer's durable consumer of its chain's EVENTS stream (a consumer is per stream)."""


class WrongChain(GovChainError):
    """A process was given another chain's names than its genesis's: it would read or write one
    chain's streams as another's."""


@dataclass(frozen=True)
class ChainNames:
    """The stream and subject names of one chain. ``ChainNames()`` is the default chain."""

    chain: str | None = None

    def __post_init__(self) -> None:
        if self.chain is not None and not CHAIN_ID.fullmatch(self.chain):
            raise ValueError(f"chain id {self.chain!r}: lowercase letters, digits, - and _ (at most 64)")

    def require(self, genesis_chain_id: str) -> None:
        """Refuse to serve a genesis of another chain than these names' (the default names serve
        any: a chain deployed before names carried ids has whatever id it has)."""
        if self.chain is not None and self.chain != genesis_chain_id:
            raise WrongChain(f"told to serve chain {self.chain!r}, but genesis is chain {genesis_chain_id!r}")

    @property
    def root(self) -> str:
        """``gov`` for the default chain, ``gov-<chain>`` otherwise: a token of its own, so no
        wildcard of one chain (``gov.>``) matches another's subjects."""
        return ROOT if self.chain is None else f"{ROOT}-{self.chain}"

    def stream(self, base: str) -> str:
        return base if self.chain is None else f"{base}_{self.chain}"

    def subject(self, path: str) -> str:
        return f"{self.root}.{path}"

    # Streams.
    @property
    def events_stream(self) -> str:
        return self.stream("EVENTS")

    @property
    def rejected_stream(self) -> str:
        return self.stream("REJECTED")

    @property
    def blocks_stream(self) -> str:
        return self.stream("BLOCKS")

    @property
    def checkpoints_stream(self) -> str:
        """The ledger's witnessed checkpoints (c2sp.org/tlog-checkpoint notes), newest last: each one
        signed by the log's checkpoint key and cosigned by at least the quorum of the on-chain
        witness policy."""
        return self.stream("CHECKPOINTS")

    @property
    def events_subjects(self) -> str:
        return self.subject("events.>")

    @property
    def rejected_subjects(self) -> str:
        return self.subject("rejected.>")

    @property
    def blocks_subject(self) -> str:
        return self.subject("blocks")

    @property
    def checkpoints_subject(self) -> str:
        return self.subject("checkpoints")

    @property
    def sha256_checkpoints_subject(self) -> str:
        """A gm chain's SHA-256 checkpoints (origin ``<origin>/sha256``, for stock C2SP witnesses),
        on stream CHECKPOINTS beside the chain's own (docs/crypto-profiles.md)."""
        return self.subject("checkpoints.sha256")

    @property
    def orderer_lease(self) -> str:
        """The key of the orderer's leadership lease (:mod:`govchain.bus.lease`)."""
        return "orderer" if self.chain is None else f"orderer-{self.chain}"

    @property
    def lease_bucket(self) -> str:
        """The key-value bucket of the chain's leases: one per chain, so no chain's ledger can
        touch another's lease (a rollup on a key clears its whole bucket)."""
        return "govchain_leases" if self.chain is None else f"govchain_leases_{self.chain}"

    def user(self, name: str) -> str:
        """The NATS user of a service or department of this chain: ``ledger``, or ``ledger@<chain>``
        on a named chain, so chains sharing a cluster have users (and reply inboxes) of their own."""
        return name if self.chain is None else f"{name}@{self.chain}"

    def department_events(self, department: str) -> str:
        """Every event subject of one department (``gov.events.<dept>.>``): what it may publish."""
        return self.subject(f"events.{department}.>")

    def service_questions(self, service: str) -> str:
        """Every question one service answers (``gov.ledger.>``): for NATS permissions."""
        return self.subject(f"{service}.>")

    def localized(self, default_subject: str) -> str:
        """This chain's form of a default-chain subject (``gov.registry.parcel`` →
        ``gov-sh.registry.parcel``): for code that names questions by the constants below."""
        root, dot, rest = default_subject.partition(".")
        if root != ROOT or not dot:
            raise ValueError(f"{default_subject!r} is not a default-chain subject")
        return self.subject(rest)

    # Events.
    def event_subject(self, source: str, event_type: str) -> str:
        """``gov.events.<dept>.<type>``: NATS permissions can pin each department to its own prefix."""
        return self.subject(f"events.{source}.{event_type}")

    def batch_subject(self, source: str) -> str:
        """``gov.events.<dept>._batch``: inside the department's own prefix, so its permissions hold."""
        return self.subject(f"events.{source}.{BATCH_TOKEN}")

    def rejected_subject(self, source: str, event_id: str) -> str:
        """``gov.rejected.<dept>.<event id>``: one subject per event, so a receipt is one direct get."""
        return self.subject(f"rejected.{source}.{event_id}")

    # Questions (request/reply).
    @property
    def ledger_receipt(self) -> str:
        return self.subject("ledger.receipt")

    @property
    def ledger_proof(self) -> str:
        return self.subject("ledger.proof")

    @property
    def ledger_consistency(self) -> str:
        return self.subject("ledger.consistency")

    @property
    def ledger_head(self) -> str:
        return self.subject("ledger.head")

    @property
    def ledger_checkpoint(self) -> str:
        """The newest witnessed checkpoint (the note, its size, height and witness policy)."""
        return self.subject("ledger.checkpoint")

    @property
    def ledger_tile(self) -> str:
        """A c2sp.org/tlog-tiles hash tile of the event log, read from the ledger's Merkle nodes."""
        return self.subject("ledger.tile")

    @property
    def ledger_leaves(self) -> str:
        """Where a run of leaves (an entry bundle's) is: block height and position of each."""
        return self.subject("ledger.leaves")

    @property
    def identity_resolve(self) -> str:
        return self.subject("identity.did.resolve")

    @property
    def identity_verify_credential(self) -> str:
        return self.subject("identity.credential.verify")

    @property
    def identity_key(self) -> str:
        """One key as the chain knows it, with its owner: the gateway checks signers with it."""
        return self.subject("identity.key")

    @property
    def registry_business(self) -> str:
        return self.subject("registry.business")

    @property
    def registry_businesses(self) -> str:
        return self.subject("registry.businesses")

    @property
    def registry_businesses_of(self) -> str:
        """The businesses one person owns, asked by that person (or an officer): what they may apply for."""
        return self.subject("registry.businesses_of")

    @property
    def registry_parcel(self) -> str:
        return self.subject("registry.parcel")

    @property
    def registry_document(self) -> str:
        return self.subject("registry.document")

    @property
    def registry_departments(self) -> str:
        return self.subject("registry.departments")

    @property
    def registry_catalog(self) -> str:
        return self.subject("registry.catalog")

    @property
    def registry_access_log(self) -> str:
        return self.subject("registry.access_log")

    @property
    def registry_seal(self) -> str:
        return self.subject("registry.seal")

    @property
    def registry_dataset_read(self) -> str:
        return self.subject("registry.dataset.read")

    @property
    def registry_grants(self) -> str:
        return self.subject("registry.grants")

    @property
    def contract_case(self) -> str:
        return self.subject("contract.case")

    @property
    def contract_list(self) -> str:
        return self.subject("contract.list")

    @property
    def contract_awaiting(self) -> str:
        """The open cases waiting on one department's approval (the officials' workbench queue)."""
        return self.subject("contract.awaiting")

    @property
    def contract_cases_of(self) -> str:
        """The cases one principal is a party to: moved by an event they signed, or naming them (newest first)."""
        return self.subject("contract.cases_of")

    @property
    def analytics_summary(self) -> str:
        return self.subject("analytics.summary")

    @property
    def analytics_chart(self) -> str:
        return self.subject("analytics.chart")


DEFAULT = ChainNames()
"""The default chain's names; the constants below are these, for code and tests on that chain."""

EVENTS_STREAM = DEFAULT.events_stream
REJECTED_STREAM = DEFAULT.rejected_stream
BLOCKS_STREAM = DEFAULT.blocks_stream
CHECKPOINTS_STREAM = DEFAULT.checkpoints_stream

EVENTS_SUBJECTS = DEFAULT.events_subjects
REJECTED_SUBJECTS = DEFAULT.rejected_subjects
BLOCKS_SUBJECT = DEFAULT.blocks_subject
CHECKPOINTS_SUBJECT = DEFAULT.checkpoints_subject
SHA256_CHECKPOINTS_SUBJECT = DEFAULT.sha256_checkpoints_subject

LEDGER_RECEIPT = DEFAULT.ledger_receipt
LEDGER_PROOF = DEFAULT.ledger_proof
LEDGER_CONSISTENCY = DEFAULT.ledger_consistency
LEDGER_HEAD = DEFAULT.ledger_head
LEDGER_CHECKPOINT = DEFAULT.ledger_checkpoint
LEDGER_TILE = DEFAULT.ledger_tile
LEDGER_LEAVES = DEFAULT.ledger_leaves

IDENTITY_RESOLVE = DEFAULT.identity_resolve
IDENTITY_VERIFY_CREDENTIAL = DEFAULT.identity_verify_credential
IDENTITY_KEY = DEFAULT.identity_key

REGISTRY_BUSINESS = DEFAULT.registry_business
REGISTRY_BUSINESSES = DEFAULT.registry_businesses
REGISTRY_BUSINESSES_OF = DEFAULT.registry_businesses_of
REGISTRY_PARCEL = DEFAULT.registry_parcel
REGISTRY_DOCUMENT = DEFAULT.registry_document
REGISTRY_DEPARTMENTS = DEFAULT.registry_departments
REGISTRY_CATALOG = DEFAULT.registry_catalog
REGISTRY_ACCESS_LOG = DEFAULT.registry_access_log
REGISTRY_SEAL = DEFAULT.registry_seal
REGISTRY_DATASET_READ = DEFAULT.registry_dataset_read
REGISTRY_GRANTS = DEFAULT.registry_grants

CONTRACT_CASE = DEFAULT.contract_case
CONTRACT_LIST = DEFAULT.contract_list
CONTRACT_AWAITING = DEFAULT.contract_awaiting
CONTRACT_CASES_OF = DEFAULT.contract_cases_of

ANALYTICS_SUMMARY = DEFAULT.analytics_summary
ANALYTICS_CHART = DEFAULT.analytics_chart

event_subject = DEFAULT.event_subject
batch_subject = DEFAULT.batch_subject
rejected_subject = DEFAULT.rejected_subject


def is_chain_root(token: str) -> bool:
    """``gov``, or ``gov-<chain id>``: the first token of some chain's subjects."""
    chain = token.removeprefix(f"{ROOT}-")
    return token == ROOT or (chain != token and CHAIN_ID.fullmatch(chain) is not None)


def split_event_subject(subject: str) -> tuple[str, str]:
    """The (department, type) an intake subject of any chain names (the stream a message came
    from fixes its chain); raises ValueError on another shape."""
    parts = subject.split(".", 3)
    if len(parts) != 4 or not is_chain_root(parts[0]) or parts[1] != "events" or not parts[2] or not parts[3]:
        raise ValueError(f"{subject!r} is not gov.events.<dept>.<type>")
    return parts[2], parts[3]


def is_batch_subject(subject: str) -> bool:
    """A batch envelope's intake subject, of any chain."""
    parts = subject.split(".")
    return (
        len(parts) == 4
        and is_chain_root(parts[0])
        and parts[1] == "events"
        and bool(parts[2])
        and parts[3] == BATCH_TOKEN
    )


def inbox_prefix(user: str) -> str:
    """Where a NATS user's replies arrive (``_INBOX.<user>.<random>``). Each user may subscribe
    only under its own prefix, so no one reads another's answers, personal data included."""
    return f"_INBOX.{user}"


def block_sequence(height: int) -> int:
    """Block ``height`` is stream sequence ``height + 1`` of BLOCKS (the design card fixes this)."""
    return height + 1
