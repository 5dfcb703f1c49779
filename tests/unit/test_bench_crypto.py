"""The benchmark's ``--crypto`` option builds the chain it names: under ``gm`` the hot path's
orderer seals a 国密 chain (genesis naming the profile, SM2 keys, SM3 hashes) whose blocks
verify under the gm suite; under the default the chain is the intl one it always was.

Small workloads, no timings asserted: what is checked is which chain the figures are of."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import hotpath, verifycost
from govchain.crypto import GM, INTL
from govchain.protocol.block import Block
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.verify import ChainVerifier

EVENTS, BATCH, DEPARTMENTS = 240, 20, 2

needs_gm = pytest.mark.skipif(not GM.available, reason="the gm profile needs gmssl-pyx (x86-64 wheels only)")


def _verify(wires: list[bytes]) -> tuple[ChainVerifier, list[Block], int]:
    """Every block read back as a reader would, with the suite its genesis names."""
    verifier = ChainVerifier()
    blocks = [Block.from_bytes(raw, height_hint=height) for height, raw in enumerate(wires)]
    events = sum(len(verifier.verify(block).leaf_hashes) for block in blocks)
    return verifier, blocks, events


def _hotpath(crypto: str, workload: Path | None = None) -> dict:
    return hotpath.measure(
        EVENTS, BATCH, departments=DEPARTMENTS, crypto=crypto, workload_path=workload, stages=False, keep_blocks=True
    )


@needs_gm
def test_the_gm_hot_path_orders_a_gm_chain(tmp_path: Path) -> None:
    stored = tmp_path / "gm.pickle"
    result = _hotpath("gm", stored)
    assert result["crypto"] == "gm" and result["rejected"] == 0 and result["events"] > 0

    verifier, blocks, events = _verify(result["block_wires"])
    assert verifier.checkpoint is not None and verifier.checkpoint.state.suite is GM
    assert events == result["events"] + 1  # genesis, then every committed event
    genesis = blocks[0].events[0]["data"]
    assert genesis["crypto_profile"] == "gm"
    assert PublicKey.from_hex(genesis["checkpoint_key"]).suite is INTL  # Ed25519, for C2SP checkpoints
    orderer = PublicKey.from_hex(genesis["orderer_keys"][0])
    assert orderer.suite is GM and len(orderer.raw) == 65
    for block in blocks[1:]:
        # independently of the verifier: SM3 block hashes (not SHA-256's), SM2 signatures
        assert block.header.block_hash(GM) == block.hash != block.header.block_hash(INTL)
        assert block.has_valid_signature(orderer)

    # the departments signed with SM2 keys, and a stored gm workload is not replayed as intl
    workload = hotpath.load_workload(stored, EVENTS, BATCH, DEPARTMENTS, "gm")
    assert workload.crypto == "gm"
    assert all(SigningKey.from_pem(pem).suite is GM for pem in workload.departments.values())
    with pytest.raises(SystemExit, match="gm workload"):
        hotpath.load_workload(stored, EVENTS, BATCH, DEPARTMENTS, "intl")


def test_the_default_hot_path_orders_an_intl_chain_as_before() -> None:
    result = _hotpath("intl")
    assert result["crypto"] == "intl"
    verifier, blocks, events = _verify(result["block_wires"])
    assert verifier.checkpoint is not None and verifier.checkpoint.state.suite is INTL
    assert events == result["events"] + 1
    genesis = blocks[0].events[0]["data"]
    assert "crypto_profile" not in genesis and "checkpoint_key" not in genesis  # as before profiles
    assert all(block.header.block_hash(INTL) == block.hash for block in blocks)


@needs_gm
def test_verifycost_builds_a_gm_chain() -> None:
    genesis_hash, raws = verifycost.build_chain(300, BATCH, departments=DEPARTMENTS, crypto="gm")
    verifier, blocks, events = _verify(raws)
    assert verifier.checkpoint is not None and verifier.checkpoint.state.suite is GM
    assert blocks[0].hash == genesis_hash and blocks[0].events[0]["data"]["crypto_profile"] == "gm"
    assert events == verifycost.read_back(genesis_hash, raws, check_events=True) > 300
