"""Genesis: the signed founding event of a chain and the block at height 0 that carries it."""

from __future__ import annotations

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
) -> Envelope:
    """The founding event, signed by the first root key."""
    payload = ev.ChainGenesis(
        chain_id=chain_id,
        root_keys=[k.public.hex for k in root_keys],
        orderer_keys=[k.public.hex for k in orderer_keys],
        services={name: key.public.hex for name, key in (services or {}).items()},
        policy=policy.model_dump(mode="json"),
    )
    return make_event(
        root_keys[0],
        source=ev.ROOT,
        type="chain.genesis",
        data=payload.model_dump(),
        event_id=f"genesis-{chain_id}"[:64],
    )


def genesis_payload(genesis_event: Envelope) -> ev.ChainGenesis:
    return ev.ChainGenesis.model_validate(genesis_event.data)


def make_genesis_block(genesis_event: Envelope, orderer_key: SigningKey) -> Block:
    """Block 0. Its time is the genesis event's, so every orderer seals the same block."""
    payload = genesis_payload(genesis_event)
    leaf = leaf_hash(genesis_event.to_bytes())
    log = Frontier()
    log.append(leaf)
    return seal_block(
        chain_id=payload.chain_id,
        height=0,
        prev_hash=ZERO_HASH,
        events=[genesis_event.to_dict()],
        leaf_hashes=[leaf],
        log_after=log,
        time=genesis_event.time,
        orderer_key=orderer_key,
    )
