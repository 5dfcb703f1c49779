"""The crypto profile of a chain, as the protocol kernel uses it: genesis names it, the verifier
learns it, keys name their suite, and what an outside standard fixes stays Ed25519.

The block, verifier, validation and identity-rule tests run under both profiles through the
``builder`` fixture; this file holds what is particular to choosing a profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govchain.crypto import GM, INTL, CryptoSuite
from govchain.crypto.sm2 import compress_public, decompress_public
from govchain.privacy.kek import Kek, KekError
from govchain.protocol.batch import open_batch, sign_batch
from govchain.protocol.block import Block
from govchain.protocol.credentials import CredentialError, add_proof, make_credential
from govchain.protocol.did import did_document
from govchain.protocol.envelope import make_event
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.genesis import genesis_suite, make_genesis_event
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.merkle import (
    Frontier,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from govchain.protocol.multikey import (
    MultikeyError,
    decode_multibase_b58,
    public_key_from_multibase,
    public_key_multibase,
)
from govchain.protocol.sealed import is_sealed, open_sealed, seal
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event
from govchain.protocol.verify import ChainVerifier
from govchain.pseudonym import pseudonym

from .conftest import ChainBuilder

VECTORS = Path(__file__).with_name("vectors")
SUBJECT = "c-" + "ab" * 16


def test_a_chain_made_before_profiles_verifies_byte_for_byte_as_intl() -> None:
    """Blocks written by the code before crypto profiles (genesis without the field)."""
    vector = json.loads((VECTORS / "pre_profile_chain.json").read_text())
    verifier = ChainVerifier(check_events=True)
    for raw in vector["blocks"]:
        block = Block.from_bytes(raw.encode())
        verifier.verify(block)
        assert block.to_bytes() == raw.encode()
    assert verifier.state is not None and verifier.state.suite is INTL
    assert verifier.checkpoint is not None and verifier.checkpoint.log.root().hex() == vector["log_root"]
    assert "crypto_profile" not in verifier.state.to_json()


def test_genesis_names_the_profile_of_its_keys() -> None:
    intl = make_genesis_event("c", [SigningKey.generate()], [SigningKey.generate()])
    assert "crypto_profile" not in intl.data and genesis_suite(intl) is INTL  # as before profiles
    gm = make_genesis_event("c", [SigningKey.generate(GM)], [SigningKey.generate(GM)])
    assert gm.data["crypto_profile"] == "gm" and genesis_suite(gm) is GM
    with pytest.raises(ValueError, match="keys"):  # one profile per chain: no mixed genesis
        make_genesis_event("c", [SigningKey.generate(GM)], [SigningKey.generate()])


def test_the_verifier_refuses_a_genesis_naming_an_unknown_profile(builder: ChainBuilder) -> None:
    event = builder.genesis_event.to_dict()
    event["data"] = {**event["data"], "crypto_profile": "rot13"}
    block = builder.blocks[0].model_copy(update={"events": [event]})
    with pytest.raises(Exception, match="unknown crypto profile"):
        ChainVerifier().verify(block)


def test_a_chain_refuses_keys_of_the_other_suite(builder: ChainBuilder) -> None:
    state = builder.genesis_state()
    other = SigningKey.generate(INTL if builder.suite is GM else GM)
    event = builder.register("tax", other)
    with pytest.raises(EventRejected) as refused:
        validate_event(state, event, block_time=event.time)
    assert refused.value.reason is RejectionReason.INVALID_PAYLOAD
    assert "key" in refused.value.detail


def test_a_credentials_key_is_ed25519_and_signs_no_event(builder: ChainBuilder) -> None:
    state = builder.genesis_state()
    tax = builder.new_key()
    for event in (builder.register("tax", tax),):
        apply_event(state, event, validate_event(state, event, block_time=event.time))
    issuer = SigningKey.generate(INTL)
    added = make_event(
        tax,
        source="tax",
        type="key.added",
        data={"owner": "tax", "public_key": issuer.public.hex, "purpose": "credentials"},
    )
    apply_event(state, added, validate_event(state, added, block_time=added.time))
    assert state.keys[issuer.key_id].purpose == "credentials"
    assert ChainState.from_json(state.to_json()).keys[issuer.key_id].purpose == "credentials"
    doc = builder.document("tax", key=issuer)
    with pytest.raises(EventRejected) as refused:
        validate_event(state, doc, block_time=doc.time)
    assert refused.value.reason is RejectionReason.UNAUTHORIZED
    if builder.suite is GM:  # an SM2 key cannot be a credentials key
        sm2 = builder.new_key()
        bad = make_event(
            tax,
            source="tax",
            type="key.added",
            data={"owner": "tax", "public_key": sm2.public.hex, "purpose": "credentials"},
        )
        with pytest.raises(EventRejected, match="Ed25519"):
            validate_event(state, bad, block_time=bad.time)


def test_eddsa_jcs_2022_refuses_an_sm2_key() -> None:
    document = make_credential("did:govchain:tax", {"id": "did:govchain:" + SUBJECT}, ["X"], credential_id="urn:x:1")
    with pytest.raises(CredentialError, match="Ed25519"):
        add_proof(document, SigningKey.generate(GM), "did:govchain:tax#k")


def test_sm2_multikeys_use_the_registered_sm2_pub_code() -> None:
    key = SigningKey.generate(GM).public
    text = public_key_multibase(key)
    assert text.startswith("z")
    assert public_key_from_multibase(text) == key
    assert decode_multibase_b58(text)[:2] == b"\x86\x24" and len(decode_multibase_b58(text)) == 2 + 33
    assert public_key_from_multibase(public_key_multibase(SigningKey.generate().public)).suite is INTL
    with pytest.raises(MultikeyError):
        public_key_from_multibase("z" + text[1:-4])
    document = did_document("tax", controller=None, keys=[(key.key_id, key)])
    assert document["verificationMethod"][0]["publicKeyMultibase"] == text


def test_sm2_point_compression_round_trips() -> None:
    for _ in range(20):
        raw = SigningKey.generate(GM).public.raw
        assert decompress_public(compress_public(raw)) == raw
    with pytest.raises(ValueError):
        decompress_public(b"\x04" + bytes(32))


def test_keys_name_their_suite_and_their_id_is_its_hash() -> None:
    for suite in (INTL, GM):
        key = SigningKey.generate(suite)
        assert key.suite is suite and key.public.suite is suite
        assert key.key_id == suite.hash(key.public.raw).hex()
        assert PublicKey.from_hex(key.public.hex) == key.public
        again = SigningKey.from_pem(key.to_pem())
        assert again.key_id == key.key_id and again.public.verify(again.sign(b"m"), b"m")
    with pytest.raises(ValueError):
        PublicKey.from_hex("04" + "00" * 64)  # not a point on the SM2 curve


@pytest.mark.parametrize("suite", [INTL, GM], ids=["intl", "gm"])
def test_sealed_fields_use_the_chains_aead(suite: CryptoSuite) -> None:
    key = suite.generate_aead_key()
    field = seal({"name": "李明"}, subject=SUBJECT, key=key, key_version=1, context="ctx", suite=suite)
    assert field.enc == suite.aead_name.lower() and is_sealed(field.model_dump())
    assert open_sealed(field, key=key, context="ctx") == {"name": "李明"}
    with pytest.raises(Exception, match="does not open"):
        open_sealed(field, key=key, context="other")


@pytest.mark.parametrize("suite", [INTL, GM], ids=["intl", "gm"])
def test_the_vault_kek_is_of_the_chains_aead(suite: CryptoSuite) -> None:
    kek = Kek.generate(suite)
    assert kek.suite is suite
    again = Kek.from_hex(kek.hex(), what="test")
    assert again.id == kek.id and again.suite is suite
    data_key = suite.generate_aead_key()
    wrapped = kek.wrap(data_key, subject=SUBJECT, key_version=1)
    assert again.unwrap(wrapped, subject=SUBJECT, key_version=1) == data_key
    with pytest.raises(KekError):
        kek.unwrap(wrapped, subject="c-" + "cd" * 16, key_version=1)
    with pytest.raises(KekError):
        Kek.from_hex("ab" * 16, what="test")  # 16 bytes with no sm4-gcm: prefix is no KEK


def test_pseudonyms_are_hmac_of_the_chains_hash() -> None:
    from cryptography.hazmat.primitives import hashes, hmac

    key = bytes(range(32))
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(b"110101199003074512")
    assert pseudonym("110101 199003074512", key, suite=GM) == "c-" + mac.finalize()[:16].hex()
    assert pseudonym("110101199003074512", key, suite=GM) != pseudonym("110101199003074512", key, suite=INTL)


@pytest.mark.parametrize("suite", [INTL, GM], ids=["intl", "gm"])
def test_batches_are_signed_and_opened_in_the_chains_suite(suite: CryptoSuite) -> None:
    key = SigningKey.generate(suite)
    events = [
        make_event(
            key,
            source="tax",
            type="document.registered",
            data={"document_id": f"d{i}", "sha256": "ab" * 32, "title": "t"},
        )
        for i in range(5)
    ]
    raw = sign_batch(key, events).to_bytes()
    _, opened = open_batch(raw, suite)
    for envelope, forms in opened:
        assert envelope.has_valid_signature(key.public, forms.signing, batch_root=forms.batch_root)
        assert envelope.has_valid_signature(key.public)  # walking its own path, in the key's suite
    other = GM if suite is INTL else INTL
    _, wrong = open_batch(raw, other)  # opened with the other suite's tree: no event verifies
    assert not any(e.has_valid_signature(key.public, f.signing, batch_root=f.batch_root) for e, f in wrong)


@pytest.mark.parametrize("suite", [INTL, GM], ids=["intl", "gm"])
def test_proofs_of_a_tree_in_the_chains_suite(suite: CryptoSuite) -> None:
    leaves = [suite.leaf_hash(bytes([i])) for i in range(13)]
    tree = MemoryTree(leaves, suite=suite)
    assert (
        tree.root()
        == root_from_leaf_hashes(leaves, suite)
        == Frontier.from_json(13, tree.frontier.to_json(), suite).root()
    )
    for index in range(13):
        path = inclusion_proof(index, 13, tree, suite)
        assert verify_inclusion(leaves[index], index, 13, path, tree.root(), suite)
    for old in range(1, 13):
        proof = consistency_proof(old, 13, tree, suite)
        assert verify_consistency(old, 13, root_at(old, tree, suite), tree.root(), proof, suite)
    assert (root_from_leaf_hashes([], suite) == suite.hash(b"")) and (suite is INTL) == (
        tree.root() == MemoryTree(leaves).root()
    )
