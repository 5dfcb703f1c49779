"""Genesis: the signed founding event of a chain and the block at height 0 that carries it."""

from __future__ import annotations

from govchain.crypto import INTL, CryptoSuite, keeps_sha256_tree, suite_by_name
from govchain.protocol import events as ev
from govchain.protocol.block import ZERO_HASH, Block, seal_block
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Frontier, leaf_hash
from govchain.protocol.policy import DEFAULT_POLICY, Policy


def make_genesis_event(
    chain_id: str,
    root_keys: list[SigningKey],
    orderer_keys: list[SigningKey],
    *,
    services: dict[str, SigningKey] | None = None,
    policy: Policy = DEFAULT_POLICY,
    checkpoint_key: SigningKey | None = None,
) -> Envelope:
    """The founding event, signed by the first root key.

    The chain's crypto profile is its keys' suite (all of one suite: genesis refuses a mix).
    An intl genesis carries no ``crypto_profile`` field, exactly as before profiles existed;
    any other names its profile. ``checkpoint_key`` is the Ed25519 key of the chain's C2SP
    checkpoints, needed when the orderer keys are not Ed25519 (see docs/crypto-profiles.md)."""
    suite = root_keys[0].suite
    payload = ev.ChainGenesis(
        chain_id=chain_id,
        root_keys=[k.public.hex for k in root_keys],
        orderer_keys=[k.public.hex for k in orderer_keys],
        services={name: key.public.hex for name, key in (services or {}).items()},
        policy=policy.model_dump(mode="json"),
        crypto_profile=suite.name,
        checkpoint_key=None if checkpoint_key is None else checkpoint_key.public.hex,
    )
    data = payload.model_dump()
    if suite is INTL:
        del data["crypto_profile"]  # an intl genesis reads, hashes and verifies as it always did
    if data["checkpoint_key"] is None:
        del data["checkpoint_key"]
    return make_event(
        root_keys[0],
        source=ev.ROOT,
        type="chain.genesis",
        data=data,
        event_id=f"genesis-{chain_id}"[:64],
    )


def genesis_payload(genesis_event: Envelope) -> ev.ChainGenesis:
    return ev.ChainGenesis.model_validate(genesis_event.data)


def genesis_suite(genesis_event: Envelope) -> CryptoSuite:
    """The crypto suite a chain's genesis event names (intl when it names none)."""
    return suite_by_name(genesis_payload(genesis_event).crypto_profile)


def make_genesis_block(genesis_event: Envelope, orderer_key: SigningKey) -> Block:
    """Block 0. Its time is the genesis event's, so every orderer seals the same block."""
    payload = genesis_payload(genesis_event)
    suite = genesis_suite(genesis_event)
    raw = genesis_event.to_bytes()
    leaf = suite.leaf_hash(raw)
    log = Frontier(suite=suite)
    log.append(leaf)
    sha256_log = Frontier() if keeps_sha256_tree(suite) else None
    if sha256_log is not None:
        sha256_log.append(leaf_hash(raw))
    return seal_block(
        chain_id=payload.chain_id,
        height=0,
        prev_hash=ZERO_HASH,
        events=[genesis_event.to_dict()],
        leaf_hashes=[leaf],
        log_after=log,
        time=genesis_event.time,
        orderer_key=orderer_key,
        sha256_log_after=sha256_log,
    )
