"""Least-privilege NATS users for a deployment, derived from who is on chain.

Every service and every department gets its own user. A department may publish only on
``gov.events.<its id>.>`` and ask the services questions; only the ledger may publish
blocks or touch the intake stream EVENTS and its consumer; readers get the JetStream calls
needed to follow BLOCKS (analytics also REJECTED; downstream reader users also CHECKPOINTS),
never to change a stream or to reach another's consumer. The server enforces this itself, whatever a client's code does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from govchain.bus import subjects
from govchain.protocol.policy import CONTRACT_ENGINE

INBOX = "_INBOX.>"
"""Publishing to reply inboxes (answers); subscribing is only ever to one's own, :func:`own_inbox`."""


def own_inbox(user: str) -> str:
    """The inboxes ``user`` may subscribe to: its own (``govchain.bus.connect`` sets the prefix)."""
    return subjects.inbox_prefix(user) + ".>"


QUERIES = ["gov.ledger.>", "gov.identity.>", "gov.registry.>", "gov.contract.>", "gov.analytics.>"]
"""Asking a service a question (request/reply): every user may; health checks do it too."""

FOLLOWED_STREAMS = (subjects.BLOCKS_STREAM, subjects.REJECTED_STREAM)
"""What readers follow. EVENTS is the orderer's intake: no reader touches it or its consumer."""


def read_streams(streams: Iterable[str] = FOLLOWED_STREAMS) -> list[str]:
    """The JetStream API a reader needs to follow ``streams``, and nothing that changes one.

    Readers follow a stream with batched direct gets (:mod:`govchain.bus.stream_reader`): the
    server answers on the reader's own inbox and keeps no consumer. So readers get no
    consumer rights at all. A consumer-create request names its delivery subject in its body,
    which permissions cannot see: a reader allowed to create one could make the server push a
    stream onto any subject (another service's request subject, another user's inbox), or
    rewrite a named consumer, the orderer's ``ledger-orderer`` among them.
    """
    allowed = ["$JS.API.INFO"]
    for stream in streams:
        allowed += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.MSG.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}.>",
        ]
    return allowed


READ_STREAMS = read_streams([subjects.BLOCKS_STREAM])
"""Read BLOCKS by direct get; nothing more."""
READ_REFUSALS = read_streams()
"""Also REJECTED: for analytics, which tallies refusals (``services/analytics/refusals.py``)."""
READER_STREAMS = (*FOLLOWED_STREAMS, subjects.CHECKPOINTS_STREAM)
"""What a downstream system follows (docs/follow-the-chain.md): the blocks, the refusals, and
the witnessed checkpoints."""

SERVICE_USERS = {
    "ledger": "ledger",
    "identity": "identity",
    "registry": "registry",
    "contract": CONTRACT_ENGINE,
    "analytics": "analytics",
    "gateway": "gateway",
}
"""The NATS user each ``govchain serve <service>`` logs in as, i.e. whose
``credentials/<user>.env`` its container reads (``docker-compose.yml``). The contract engine
publishes the events it signs as its principal ``contract-engine`` on
``gov.events.contract-engine.>``, so that principal is its user, not ``contract``."""


def nats_user_of(service: str) -> str:
    """The NATS user ``govchain serve <service>`` connects as."""
    return SERVICE_USERS[service]


@dataclass(frozen=True)
class NatsUser:
    name: str
    publish: list[str]
    subscribe: list[str]
    responds: bool = False
    """May answer requests (publish to the requester's reply inbox)."""


@dataclass
class Deployment:
    """The principals NATS users are made for: service ids and department ids on chain."""

    services: set[str] = field(default_factory=set)
    departments: set[str] = field(default_factory=set)
    readers: set[str] = field(default_factory=set)
    """Downstream systems that follow the chain read-only (:func:`reader_user`)."""


def service_users(services: Iterable[str]) -> list[NatsUser]:
    """The platform's services; the ledger alone writes blocks and witnessed checkpoints and
    manages streams (readers get checkpoints and tiles through its queries, ``gov.ledger.>``)."""
    users = [
        NatsUser(
            "ledger",
            publish=[
                subjects.BLOCKS_SUBJECT,
                subjects.REJECTED_SUBJECTS,
                subjects.CHECKPOINTS_SUBJECT,
                "$JS.API.>",
                "$KV.govchain_leases.>",
                "$JS.ACK.>",
                *QUERIES,
                INBOX,
            ],
            subscribe=[own_inbox("ledger"), "gov.ledger.>"],
            responds=True,
        ),
        NatsUser(
            "identity",
            publish=[*READ_STREAMS, *QUERIES, INBOX],
            subscribe=[own_inbox("identity"), "gov.identity.>"],
            responds=True,
        ),
        NatsUser(
            "analytics",
            publish=[*READ_REFUSALS, *QUERIES, INBOX],
            subscribe=[own_inbox("analytics"), "gov.analytics.>"],
            responds=True,
        ),
    ]
    # (answers on, publishes events as): the gateway relays events that people signed, so it
    # may publish any event subject; the ledger still checks every signature.
    roles = {
        "registry": ("gov.registry.>", "gov.events.registry.>"),
        CONTRACT_ENGINE: ("gov.contract.>", f"gov.events.{CONTRACT_ENGINE}.>"),
        "gateway": (None, "gov.events.>"),
    }
    for service in sorted(set(services) & set(roles)):
        answers, events = roles[service]
        users.append(
            NatsUser(
                service,
                publish=[*READ_STREAMS, events, *QUERIES, INBOX],
                subscribe=[own_inbox(service), *([answers] if answers else [])],
                responds=answers is not None,
            )
        )
    return users


def department_user(department: str) -> NatsUser:
    """Publishes its own events only; asks the services; reads nothing of the streams directly."""
    return NatsUser(department, publish=[f"gov.events.{department}.>", *QUERIES], subscribe=[own_inbox(department)])


def reader_user(name: str) -> NatsUser:
    """A downstream system: follows BLOCKS, REJECTED and CHECKPOINTS by direct get and asks the
    ledger for proofs, checkpoints and tiles; publishes no event, creates no consumer, and
    hears only its own inbox (``_INBOX.<name>``)."""
    return NatsUser(name, publish=[*read_streams(READER_STREAMS), "gov.ledger.>"], subscribe=[own_inbox(name)])


def users_for(deployment: Deployment) -> list[NatsUser]:
    taken = deployment.services | deployment.departments | {"admin"}
    if clash := sorted(deployment.readers & taken):
        raise ValueError(f"reader names must not be a service's, a department's or admin: {', '.join(clash)}")
    return [
        *service_users(deployment.services),
        *(department_user(d) for d in sorted(deployment.departments)),
        *(reader_user(r) for r in sorted(deployment.readers)),
    ]


def authorization_block(users: list[NatsUser], password_hashes: dict[str, str], *, admin_hash: str) -> str:
    """A nats-server ``authorization {}`` block: the users, their bcrypt hashes, their rights.

    ``admin`` (for the operator's tools) may do anything; keep its password offline."""
    entries: list[dict[str, object]] = [{"user": "admin", "password": admin_hash}]
    for user in users:
        permissions: dict[str, object] = {"publish": {"allow": user.publish}, "subscribe": {"allow": user.subscribe}}
        if user.responds:
            permissions["allow_responses"] = True
        entries.append({"user": user.name, "password": password_hashes[user.name], "permissions": permissions})
    # nats-server reads JSON syntax inside its configuration format.
    return "authorization {\n  users: " + json.dumps(entries, indent=2).replace("\n", "\n  ") + "\n}\n"
