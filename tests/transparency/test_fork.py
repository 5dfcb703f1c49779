"""A log that forks cannot get both histories witnessed, and a client with a k-of-n witness
policy refuses the fork it is shown."""

from __future__ import annotations

import pytest

from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import consistency_proof, leaf_hash
from govchain.transparency.checkpoint import add_signatures, sign_checkpoint
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.errors import InvalidSignature, QuorumNotMet, UnverifiedNote
from govchain.transparency.note import NoteSignature, parse_note
from govchain.transparency.policy import verify_cosigned
from govchain.transparency.witness import TrustedLog, Witness
from govchain.transparency.witness_protocol import format_add_checkpoint, parse_cosignatures

from .conftest import Clock, Log, MemoryState


def fork_of(log: Log, shared: int, size: int) -> Log:
    """The same log key and origin, the same first ``shared`` leaves, then another history."""
    fork = Log(origin=log.origin, key=log.key)
    fork.grow_to(shared)
    assert fork.tree.root() == log.checkpoint(shared).root
    for i in range(shared, size):
        fork.leaves.append(b"rewritten %d" % i)
        fork.tree.append(leaf_hash(fork.leaves[-1]))
    return fork


def witnesses(log: Log, n: int) -> list[Witness]:
    return [
        Witness(
            CosignatureSigner(f"witness{i}.example/w", SigningKey.generate(), Clock(1_750_000_000 + i)),
            [TrustedLog.from_vkeys(log.origin, [log.vkey])],
            MemoryState(),
        )
        for i in range(n)
    ]


def gather(log_note: bytes, body: bytes, group: list[Witness]) -> tuple[bytes, list[int]]:
    """What the ledger will do: ask each witness, add the cosignatures it returns."""
    note, statuses = log_note, []
    for witness in group:
        answer = witness.add_checkpoint(body)
        statuses.append(answer.status)
        if answer.status == 200:
            note = add_signatures(note, parse_cosignatures(answer.body))
    return note, statuses


def test_the_witness_cosigns_the_first_history_and_refuses_the_fork(log: Log) -> None:
    (witness,) = witnesses(log, 1)
    log.grow_to(10)
    assert witness.add_checkpoint(log.request(0)).status == 200

    same_size = fork_of(log, 6, 10)
    assert same_size.checkpoint().root != log.checkpoint().root
    assert witness.add_checkpoint(same_size.request(10, proof=[])).status == 422

    longer = fork_of(log, 6, 12)
    with_fork_proof = format_add_checkpoint(10, consistency_proof(10, 12, longer.tree), longer.signed())
    assert witness.add_checkpoint(with_fork_proof).status == 422
    assert witness.add_checkpoint(longer.request(0, proof=[])).status == 409

    state = witness.state
    assert isinstance(state, MemoryState)
    assert state.rows[log.origin].head.root == log.checkpoint().root
    assert state.refusals[0][2].endswith("the log forked")


def test_a_prefix_both_histories_share_does_not_let_the_fork_through(log: Log) -> None:
    (witness,) = witnesses(log, 1)
    log.grow_to(10)
    fork = fork_of(log, 6, 12)
    assert witness.add_checkpoint(log.request(0, 6)).status == 200  # the shared prefix: fine
    assert witness.add_checkpoint(log.request(6)).status == 200  # the first history grows from it
    fork_body = format_add_checkpoint(10, consistency_proof(10, 12, fork.tree), fork.signed())
    assert witness.add_checkpoint(fork_body).status == 422


def test_quorum_client_accepts_the_witnessed_history_and_refuses_the_fork(log: Log) -> None:
    group = witnesses(log, 3)
    vkeys = [w.signer.verifier.vkey for w in group]
    log.grow_to(10)
    honest, statuses = gather(log.signed(), log.request(0), group)
    assert statuses == [200, 200, 200]
    accepted = verify_cosigned(honest, log.vkey, vkeys, 2)
    assert accepted.checkpoint == log.checkpoint()
    assert accepted.log_vkey == log.vkey
    assert [w.vkey for w in accepted.witnesses] == vkeys
    assert [w.timestamp for w in accepted.witnesses] == [1_750_000_000, 1_750_000_001, 1_750_000_002]

    fork = fork_of(log, 6, 12)
    forged_body = format_add_checkpoint(10, consistency_proof(10, 12, fork.tree), fork.signed())
    fork_note, statuses = gather(fork.signed(), forged_body, group)
    assert statuses == [422, 422, 422]
    with pytest.raises(QuorumNotMet) as refused:
        verify_cosigned(fork_note, log.vkey, vkeys, 2)
    assert (refused.value.found, refused.value.required) == (0, 2)

    # The operator brings its own, fresh witness for the fork: it counts once, still below 2.
    (stooge,) = witnesses(log, 1)
    fork_note, statuses = gather(fork.signed(), fork.request(0), [stooge])
    assert statuses == [200]
    with pytest.raises(QuorumNotMet):
        verify_cosigned(fork_note, log.vkey, [*vkeys, stooge.signer.verifier.vkey], 2)
    assert len(verify_cosigned(fork_note, log.vkey, [*vkeys, stooge.signer.verifier.vkey], 1).witnesses) == 1


def test_policy_edges(log: Log) -> None:
    group = witnesses(log, 2)
    vkeys = [w.signer.verifier.vkey for w in group]
    log.grow_to(4)
    note, _ = gather(log.signed(), log.request(0), group)

    assert len(verify_cosigned(note, log.vkey, [vkeys[0], vkeys[0]], 1).witnesses) == 1  # listed twice, counted once
    assert verify_cosigned(note, log.vkey, vkeys, 0).witnesses  # quorum 0: the log's signature alone
    with pytest.raises(ValueError):
        verify_cosigned(note, log.vkey, vkeys, 3)
    with pytest.raises(QuorumNotMet):
        verify_cosigned(note, log.vkey, vkeys, 2, now=1_750_000_000)  # the second is dated in the future

    only_witnesses = sign_checkpoint(log.checkpoint(), [w.signer for w in group])
    with pytest.raises(UnverifiedNote):
        verify_cosigned(only_witnesses, log.vkey, vkeys, 1)

    parsed = parse_note(note)
    bad = parsed.signatures[1]
    tampered_line = NoteSignature(bad.name, bad.key_id, bad.signature[:8] + bytes(64))
    tampered = note.replace(bad.line().encode(), tampered_line.line().encode())
    with pytest.raises(InvalidSignature):
        verify_cosigned(tampered, log.vkey, vkeys, 1)

    other_log = Log(origin=log.origin)
    with pytest.raises(UnverifiedNote):
        verify_cosigned(note, other_log.vkey, vkeys, 1)
