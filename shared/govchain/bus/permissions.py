"""Least-privilege NATS users for a deployment, derived from who is on chain.

Every service and every department gets its own user. A department may publish only on
``gov.events.<its id>.>`` and ask the services questions; only the ledger may publish
blocks or touch the intake stream EVENTS and its consumer; readers get the JetStream calls
needed to follow BLOCKS (analytics also REJECTED; downstream reader users also CHECKPOINTS),
never to change a stream or to reach another's consumer. The server enforces this itself, whatever a client's code does.

Every rule is one chain's (:class:`~govchain.bus.subjects.ChainNames`): on a NATS cluster several
chains share, a named chain's users are ``<name>@<chain>`` and hold only its subjects and streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from govchain.bus import subjects
from govchain.bus.subjects import DEFAULT, ORDERER_CONSUMER, ChainNames
from govchain.protocol.policy import CONTRACT_ENGINE

INBOX = "_INBOX.>"
"""Publishing to reply inboxes (answers); subscribing is only ever to one's own, :func:`own_inbox`."""


def own_inbox(user: str) -> str:
    """The inboxes ``user`` may subscribe to: its own (``govchain.bus.connect`` sets the prefix)."""
    return subjects.inbox_prefix(user) + ".>"


QUESTION_SERVICES = ("ledger", "identity", "registry", "contract", "analytics")
"""Whose questions every user may ask (request/reply; health checks do it too)."""


def questions(names: ChainNames = DEFAULT) -> list[str]:
    """Asking the chain's services a question: ``gov.ledger.>``, ``gov.identity.>``, …"""
    return [names.service_questions(service) for service in QUESTION_SERVICES]


def followed_streams(names: ChainNames = DEFAULT) -> tuple[str, str]:
    """What readers follow. EVENTS is the orderer's intake: no reader touches it or its consumer."""
    return (names.blocks_stream, names.rejected_stream)


def read_streams(streams: Iterable[str]) -> list[str]:
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
"""Read the default chain's BLOCKS by direct get; nothing more."""


def ledger_streams_api(names: ChainNames = DEFAULT) -> list[str]:
    """The JetStream the ledger uses, named call by call and on its own chain's streams alone:
    on a cluster several chains share, no chain's ledger may create, change, delete or purge
    another's streams or consumers, nor write another's orderer lease.

    It creates its four streams if missing (info, create; never update, delete or purge), its
    intake consumer ``ledger-orderer`` on EVENTS (info, create, pull, ack), reads BLOCKS, REJECTED
    and CHECKPOINTS as readers do (its tools, ``govchain verify`` among them, run as the ledger),
    and keeps its lease in its chain's own bucket (:attr:`~govchain.bus.subjects.ChainNames.lease_bucket`),
    at its own key.

    Permissions see subjects, not bodies: the configuration in a create request still reaches
    past them, a stream's republish when the ledger first creates its streams and a consumer's
    delivery subject when it creates its orderer consumer (the hole :func:`read_streams` keeps
    readers out of). Operators who do not trust each other keep their chains in separate NATS
    accounts.
    """
    events, consumer = names.events_stream, ORDERER_CONSUMER
    read = (names.blocks_stream, names.rejected_stream, names.checkpoints_stream)
    lease_stream, lease_key = f"KV_{names.lease_bucket}", f"$KV.{names.lease_bucket}.{names.orderer_lease}"
    return [
        *read_streams(read),  # with each stream's info
        f"$JS.API.STREAM.INFO.{events}",
        *(f"$JS.API.STREAM.CREATE.{stream}" for stream in (events, *read)),
        f"$JS.API.CONSUMER.INFO.{events}.{consumer}",
        f"$JS.API.CONSUMER.CREATE.{events}.{consumer}",
        f"$JS.API.CONSUMER.CREATE.{events}.{consumer}.>",  # nats-py names the filter subject here
        f"$JS.API.CONSUMER.DURABLE.CREATE.{events}.{consumer}",  # nats-py's form for servers it takes for < 2.9
        f"$JS.API.CONSUMER.MSG.NEXT.{events}.{consumer}",
        f"$JS.ACK.{events}.{consumer}.>",
        f"$JS.API.STREAM.INFO.{lease_stream}",
        f"$JS.API.STREAM.CREATE.{lease_stream}",
        f"$JS.API.STREAM.MSG.GET.{lease_stream}",  # a key's value (the request body names the key)
        f"$JS.API.DIRECT.GET.{lease_stream}.{lease_key}",  # the same, in a bucket made with direct get
        lease_key,
    ]


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


def service_users(services: Iterable[str], names: ChainNames = DEFAULT) -> list[NatsUser]:
    """The platform's services; the ledger alone writes blocks and witnessed checkpoints and
    manages its chain's streams, no other chain's (:func:`ledger_streams_api`); readers get
    checkpoints and tiles through its queries, ``gov.ledger.>``."""
    asks, blocks = questions(names), read_streams([names.blocks_stream])
    user = names.user
    users = [
        NatsUser(
            user("ledger"),
            publish=[
                names.blocks_subject,
                names.rejected_subjects,
                names.checkpoints_subject,
                names.sha256_checkpoints_subject,
                *ledger_streams_api(names),
                *asks,
                INBOX,
            ],
            subscribe=[own_inbox(user("ledger")), names.service_questions("ledger")],
            responds=True,
        ),
        NatsUser(
            user("identity"),
            publish=[*blocks, *asks, INBOX],
            subscribe=[own_inbox(user("identity")), names.service_questions("identity")],
            responds=True,
        ),
        NatsUser(
            user("analytics"),
            publish=[*read_streams(followed_streams(names)), *asks, INBOX],
            subscribe=[own_inbox(user("analytics")), names.service_questions("analytics")],
            responds=True,
        ),
    ]
    # (answers on, publishes events as): the gateway relays events that people signed, so it
    # may publish any event subject; the ledger still checks every signature.
    roles = {
        "registry": (names.service_questions("registry"), names.department_events("registry")),
        CONTRACT_ENGINE: (names.service_questions("contract"), names.department_events(CONTRACT_ENGINE)),
        "gateway": (None, names.events_subjects),
    }
    for service in sorted(set(services) & set(roles)):
        answers, events = roles[service]
        users.append(
            NatsUser(
                user(service),
                publish=[*blocks, events, *asks, INBOX],
                subscribe=[own_inbox(user(service)), *([answers] if answers else [])],
                responds=answers is not None,
            )
        )
    return users


def department_user(department: str, names: ChainNames = DEFAULT) -> NatsUser:
    """Publishes its own events only; asks the services; reads nothing of the streams directly."""
    name = names.user(department)
    return NatsUser(name, publish=[names.department_events(department), *questions(names)], subscribe=[own_inbox(name)])


def reader_user(name: str, names: ChainNames = DEFAULT) -> NatsUser:
    """A downstream system: follows BLOCKS, REJECTED and CHECKPOINTS by direct get and asks the
    ledger for proofs, checkpoints and tiles; publishes no event, creates no consumer, and
    hears only its own inbox (``_INBOX.<name>``)."""
    user = names.user(name)
    streams = (*followed_streams(names), names.checkpoints_stream)
    return NatsUser(
        user, publish=[*read_streams(streams), names.service_questions("ledger")], subscribe=[own_inbox(user)]
    )


def users_for(deployment: Deployment, names: ChainNames = DEFAULT) -> list[NatsUser]:
    """Every user of one chain's deployment. On a NATS cluster several chains share, each
    chain's users are named ``<name>@<chain>`` and hold only that chain's subjects and streams."""
    taken = deployment.services | deployment.departments | {"admin"}
    if clash := sorted(deployment.readers & taken):
        raise ValueError(f"reader names must not be a service's, a department's or admin: {', '.join(clash)}")
    return [
        *service_users(deployment.services, names),
        *(department_user(d, names) for d in sorted(deployment.departments)),
        *(reader_user(r, names) for r in sorted(deployment.readers)),
    ]


def user_entries(users: list[NatsUser], password_hashes: dict[str, str]) -> list[dict[str, object]]:
    """The users as nats-server configures them: name, bcrypt hash, rights."""
    entries: list[dict[str, object]] = []
    for user in users:
        permissions: dict[str, object] = {"publish": {"allow": user.publish}, "subscribe": {"allow": user.subscribe}}
        if user.responds:
            permissions["allow_responses"] = True
        entries.append({"user": user.name, "password": password_hashes[user.name], "permissions": permissions})
    return entries


def authorization_block(
    users: list[NatsUser],
    password_hashes: dict[str, str],
    *,
    admin_hash: str,
    other_chains: Sequence[dict[str, object]] = (),
) -> str:
    """A nats-server ``authorization {}`` block: the users, their bcrypt hashes, their rights,
    and ``other_chains``' user entries (:func:`user_entries`) on a cluster several chains share.

    ``admin`` (for the operator's tools) may do anything; keep its password offline."""
    entries = [{"user": "admin", "password": admin_hash}, *user_entries(users, password_hashes), *other_chains]
    # nats-server reads JSON syntax inside its configuration format.
    return "authorization {\n  users: " + json.dumps(entries, indent=2).replace("\n", "\n  ") + "\n}\n"
