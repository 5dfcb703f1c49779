"""Checking proofs a client received: each must lead to a head the orderer signed.

The hashes are the chain's suite's, which is its orderer keys' (a chain takes keys of its own
crypto suite only): SHA-256 for Ed25519 keys, SM3 for SM2 keys."""

from __future__ import annotations

from typing import Any

from govchain.crypto import CryptoSuite
from govchain.protocol.block import BlockHeader
from govchain.protocol.keys import PublicKey
from govchain.protocol.merkle import verify_consistency, verify_inclusion


def signed_head_problem(head: dict[str, Any], orderer_keys: dict[str, PublicKey]) -> str | None:
    """Why a signed head does not check out, or None when it does."""
    header = BlockHeader.model_validate(head["header"])
    key = orderer_keys.get(header.orderer)
    if key is None:
        return f"head signed by {header.orderer}, not a trusted orderer key"
    if header.block_hash(key.suite) != head["hash"]:
        return "head hash does not match its header"
    if not key.verify(bytes.fromhex(head["signature"]), bytes.fromhex(head["hash"])):
        return "head signature does not verify"
    return None


def inclusion_problem(answer: dict[str, Any], orderer_keys: dict[str, PublicKey]) -> str | None:
    """Why an inclusion answer does not prove its event, or None when it does."""
    problem = signed_head_problem(answer["head"], orderer_keys)
    if problem:
        return problem
    header = answer["head"]["header"]
    if answer["root"] != header["log_root"] or answer["tree_size"] != header["log_size"]:
        return "proof root or size differs from the signed head"
    ok = verify_inclusion(
        bytes.fromhex(answer["leaf_hash"]),
        answer["leaf_index"],
        answer["tree_size"],
        [bytes.fromhex(p) for p in answer["path"]],
        bytes.fromhex(answer["root"]),
        _suite(answer["head"], orderer_keys),
    )
    return None if ok else "inclusion path does not lead to the signed root"


def consistency_problem(answer: dict[str, Any], orderer_keys: dict[str, PublicKey]) -> str | None:
    """Why a consistency answer does not show the second head extends the first, or None."""
    for side in ("first", "second"):
        problem = signed_head_problem(answer[side], orderer_keys)
        if problem:
            return f"{side} head: {problem}"
    first, second = answer["first"]["header"], answer["second"]["header"]
    if first["log_size"] == 0:
        # Every log extends the empty one: such a proof would accept any second root (RFC 9162
        # §2.1.4.2 starts at size 1; transparency-dev/merkle refuses size 0 the same way).
        return "a consistency proof from an empty log proves nothing"
    if first["log_size"] > second["log_size"]:
        return "the first head is larger than the second"
    ok = verify_consistency(
        first["log_size"],
        second["log_size"],
        bytes.fromhex(first["log_root"]),
        bytes.fromhex(second["log_root"]),
        [bytes.fromhex(p) for p in answer["path"]],
        _suite(answer["second"], orderer_keys),
    )
    return None if ok else "consistency path does not link the two signed roots"


def _suite(head: dict[str, Any], orderer_keys: dict[str, PublicKey]) -> CryptoSuite:
    """The suite of a head that :func:`signed_head_problem` accepted: its orderer key's."""
    return orderer_keys[head["header"]["orderer"]].suite
