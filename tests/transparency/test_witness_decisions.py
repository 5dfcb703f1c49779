"""The witness's add-checkpoint decision, status by status, as c2sp.org/tlog-witness states it."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import EMPTY_ROOT, consistency_proof
from govchain.transparency.checkpoint import LogCheckpoint, sign_checkpoint
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.note import NoteSignature, format_note, parse_note
from govchain.transparency.verification import open_note
from govchain.transparency.vkeys import Ed25519Signer
from govchain.transparency.witness import Answer, TrustedLog, Witness
from govchain.transparency.witness_protocol import (
    format_add_checkpoint,
    parse_add_checkpoint,
    parse_cosignatures,
    parse_size_answer,
)

from . import independent_note
from .conftest import Clock, Log, MemoryState


def cosigned(witness: Witness, log: Log, answer: Answer, size: int) -> int:
    """The answer is one cosignature line over the checkpoint; return its timestamp."""
    assert answer.status == 200, answer
    assert answer.content_type == "text/plain; charset=utf-8"
    (line,) = parse_cosignatures(answer.body)
    note = log.signed(size) + line.line().encode()
    return independent_note.verify_cosignature(note, witness.signer.verifier.vkey)


def test_first_checkpoint_is_cosigned_and_stored(
    memory_witness: tuple[Witness, MemoryState], log: Log, clock: Clock
) -> None:
    witness, state = memory_witness
    log.grow_to(10)
    answer = witness.add_checkpoint(log.request(0))
    assert cosigned(witness, log, answer, 10) == int(clock.now)
    stored = state.rows[log.origin]
    assert (stored.head.size, stored.head.root) == (10, log.tree.root())
    served = open_note(stored.note, [log.signer.verifier, witness.signer.verifier])
    assert len(served.verified) == 2  # the log's signature and ours, for monitors


def test_growing_with_a_consistency_proof_is_cosigned(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, state = memory_witness
    log.grow_to(10)
    assert witness.add_checkpoint(log.request(0)).status == 200
    for size in (11, 256, 257, 1000):
        log.grow_to(size)
        old = state.rows[log.origin].head.size
        cosigned(witness, log, witness.add_checkpoint(log.request(old)), size)
    assert state.rows[log.origin].head.size == 1000


def test_the_same_checkpoint_again_is_cosigned_again(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    log.grow_to(5)
    assert witness.add_checkpoint(log.request(0)).status == 200
    assert witness.add_checkpoint(log.request(5)).status == 200


def test_an_empty_tree_can_be_cosigned_and_then_grown(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    assert witness.add_checkpoint(log.request(0, 0)).status == 200
    log.grow_to(3)
    assert witness.add_checkpoint(log.request(0)).status == 200


def test_409_names_the_latest_cosigned_size(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    log.grow_to(10)
    witness.add_checkpoint(log.request(0))
    log.grow_to(20)
    for old in (0, 5, 11):
        answer = witness.add_checkpoint(log.request(old, proof=consistency_proof(old, 20, log.tree) if old else []))
        assert (answer.status, answer.content_type) == (409, "text/x.tlog.size")
        assert answer.body == b"10\n" and parse_size_answer(answer.body) == 10


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n",
        b"old 0",
        b"old 0\n",
        b"old 0\n\n\n",  # the note then starts with an empty line: no origin
        b"old 01\n\n",
        b"old -1\n\n",
        b"old 1 \n\n",
        b"old  1\n\n",
        b"OLD 0\n\n",
        b"old 0\r\n\r\n",
        b"old 9223372036854775808\n\n",
        b"old 1\nnot base64!\n\n",
        b"old 1\n" + base64.b64encode(bytes(31)) + b"\n\n",
        b"old 1\n" + base64.b64encode(bytes(32)).rstrip(b"=") + b"\n\n",
        b"old 1\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\n",
        b"old 0\n" + b"x" * 1000,
        b"\xff\xfe\n\n",
    ],
)
def test_malformed_bodies_are_400(memory_witness: tuple[Witness, MemoryState], log: Log, body: bytes) -> None:
    witness, state = memory_witness
    log.grow_to(3)
    full = body + log.signed() if body.endswith(b"\n\n") and b"\xff" not in body else body
    answer = witness.add_checkpoint(full)
    assert answer.status == 400, answer
    assert state.rows == {}


def test_a_note_that_is_not_a_checkpoint_is_400(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    not_checkpoint = format_note("hello\n", [NoteSignature(log.origin, log.signer.key_id, log.key.sign(b"hello\n"))])
    assert witness.add_checkpoint(b"old 0\n\n" + not_checkpoint).status == 400
    log.grow_to(2)
    invalid_utf8 = log.signed().replace(b"\xe2\x80\x94", b"\xe2\x80")
    assert witness.add_checkpoint(b"old 0\n\n" + invalid_utf8).status == 400
    no_blank_line = b"old 0\n" + log.signed()
    assert witness.add_checkpoint(no_blank_line).status == 400


def test_old_size_beyond_the_checkpoint_is_400(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    log.grow_to(10)
    witness.add_checkpoint(log.request(0))
    answer = witness.add_checkpoint(format_add_checkpoint(10, [], log.signed(5)))
    assert answer.status == 400


def test_unknown_origin_is_404(memory_witness: tuple[Witness, MemoryState]) -> None:
    witness, _ = memory_witness
    stranger = Log(origin="other.example/log")
    stranger.grow_to(3)
    assert witness.add_checkpoint(stranger.request(0)).status == 404


def test_checkpoint_not_signed_by_the_log_key_is_403(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, state = memory_witness
    log.grow_to(3)
    impostor = Ed25519Signer(log.origin, SigningKey.generate())  # same name, other key: unknown
    note = sign_checkpoint(log.checkpoint(), [impostor])
    assert witness.add_checkpoint(b"old 0\n\n" + note).status == 403
    assert state.rows == {}


def test_a_failing_signature_of_the_log_key_is_403(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    log.grow_to(3)
    genuine = parse_note(log.signed())
    forged_root = LogCheckpoint(log.origin, 3, hashlib.sha256(b"other").digest())
    forged = format_note(forged_root.body(), list(genuine.signatures))
    assert witness.add_checkpoint(b"old 0\n\n" + forged).status == 403


def test_extra_unknown_signatures_are_ignored(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    log.grow_to(3)
    other = Ed25519Signer("someone.example/else", SigningKey.generate())
    note = sign_checkpoint(log.checkpoint(), [other, log.signer])
    assert witness.add_checkpoint(b"old 0\n\n" + note).status == 200


def test_size_zero_must_carry_the_empty_root(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    wrong = sign_checkpoint(LogCheckpoint(log.origin, 0, bytes(32)), [log.signer])
    assert witness.add_checkpoint(b"old 0\n\n" + wrong).status == 422
    right = sign_checkpoint(LogCheckpoint(log.origin, 0, EMPTY_ROOT), [log.signer])
    assert witness.add_checkpoint(b"old 0\n\n" + right).status == 200


def test_a_proof_from_size_zero_is_422(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    log.grow_to(4)
    assert witness.add_checkpoint(log.request(0, proof=[bytes(32)])).status == 422


def test_a_failing_consistency_proof_is_422_and_kept_as_evidence(
    memory_witness: tuple[Witness, MemoryState], log: Log
) -> None:
    witness, state = memory_witness
    log.grow_to(10)
    witness.add_checkpoint(log.request(0))
    log.grow_to(20)
    good = consistency_proof(10, 20, log.tree)
    assert witness.add_checkpoint(log.request(10, proof=[bytes(32), *good[1:]])).status == 422
    assert witness.add_checkpoint(log.request(10, proof=good[:-1])).status == 422
    assert witness.add_checkpoint(log.request(10, proof=[])).status == 422
    assert state.rows[log.origin].head.size == 10
    assert len(state.refusals) == 3 and all(r[0] == log.origin for r in state.refusals)
    assert witness.add_checkpoint(log.request(10, proof=good)).status == 200


def test_same_size_other_root_is_422(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, state = memory_witness
    log.grow_to(10)
    witness.add_checkpoint(log.request(0))
    fork = Log(origin=log.origin, key=log.key)
    fork.grow_to(10, seed=b"fork")
    answer = witness.add_checkpoint(fork.request(10))
    assert answer.status == 422 and b"forked" in answer.body
    assert state.rows[log.origin].head.root == log.tree.root()


def test_timestamps_never_go_back_and_are_never_zero(log: Log) -> None:
    clock = Clock(1_800_000_000)
    signer = CosignatureSigner("w.example/t", SigningKey.generate(), clock)
    witness = Witness(signer, [TrustedLog.from_vkeys(log.origin, [log.vkey])], MemoryState())
    log.grow_to(2)
    first = cosigned(witness, log, witness.add_checkpoint(log.request(0)), 2)
    clock.now = 1_000  # the clock jumps back
    log.grow_to(3)
    assert cosigned(witness, log, witness.add_checkpoint(log.request(2)), 3) == first
    zero = Witness(
        CosignatureSigner("w.example/z", SigningKey.generate(), Clock(0)),
        [TrustedLog.from_vkeys(log.origin, [log.vkey])],
        MemoryState(),
    )
    assert cosigned(zero, log, zero.add_checkpoint(log.request(0)), 3) == 1


def test_a_compare_and_swap_loss_is_judged_again(log: Log, witness_signer: CosignatureSigner) -> None:
    """Another request advances the head between our read and our write: we answer from the new head."""
    log.grow_to(10)

    class Racing(MemoryState):
        raced = False

        def advance(self, expected, new):  # type: ignore[no-untyped-def]
            if not self.raced:
                self.raced = True
                other = Log(origin=log.origin, key=log.key, leaves=list(log.leaves), tree=log.tree)
                Witness(witness_signer, [TrustedLog.from_vkeys(log.origin, [log.vkey])], self).add_checkpoint(
                    other.request(0, 7)
                )
            return super().advance(expected, new)

    state = Racing()
    witness = Witness(witness_signer, [TrustedLog.from_vkeys(log.origin, [log.vkey])], state)
    answer = witness.add_checkpoint(log.request(0))
    assert (answer.status, answer.body) == (409, b"7\n")
    assert state.rows[log.origin].head.size == 7


def test_monitoring_checkpoint_by_origin_hash(memory_witness: tuple[Witness, MemoryState], log: Log) -> None:
    witness, _ = memory_witness
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    assert witness.monitoring_checkpoint(origin_hash) is None
    log.grow_to(4)
    witness.add_checkpoint(log.request(0))
    note = witness.monitoring_checkpoint(origin_hash)
    assert note is not None
    assert independent_note.verify_log_signature(note, log.vkey)
    assert independent_note.verify_cosignature(note, witness.signer.verifier.vkey) > 0
    assert witness.monitoring_checkpoint("0" * 64) is None


def test_request_format_round_trips(log: Log) -> None:
    log.grow_to(20)
    proof = consistency_proof(7, 20, log.tree)
    body = format_add_checkpoint(7, proof, log.signed())
    assert body.startswith(b"old 7\n" + base64.b64encode(proof[0]) + b"\n")
    parsed = parse_add_checkpoint(body)
    assert (parsed.old_size, list(parsed.proof), parsed.checkpoint) == (7, proof, log.signed())


STATUSES = {200, 400, 403, 404, 409, 422}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_bytes_get_a_status_and_never_an_exception(
    memory_witness: tuple[Witness, MemoryState], log: Log, data: st.DataObject
) -> None:
    """Total intake: random bytes, and valid requests cut, spliced or with bytes flipped."""
    witness, state = memory_witness
    if log.tree.size == 0:
        log.grow_to(9)
        witness.add_checkpoint(log.request(0, 5))
    valid = log.request(5)
    body = data.draw(
        st.one_of(
            st.binary(max_size=600),
            st.integers(0, len(valid)).map(lambda cut: valid[:cut]),
            st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)).map(
                lambda flip: valid[: flip[0]] + bytes([flip[1]]) + valid[flip[0] + 1 :]
            ),
            st.tuples(st.integers(0, len(valid)), st.binary(max_size=40)).map(
                lambda splice: valid[: splice[0]] + splice[1] + valid[splice[0] :]
            ),
        )
    )
    answer = witness.add_checkpoint(body)
    assert answer.status in STATUSES
    stored = state.rows[log.origin].head
    assert stored.size in (5, 9)  # nothing but the log's own checkpoints ever got stored
    assert stored.root == log.checkpoint(stored.size).root
