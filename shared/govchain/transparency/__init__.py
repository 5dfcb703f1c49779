"""Witnessed checkpoints: the C2SP transparency-log formats, so the outside world can check GovChain.

The ledger's event log is already an RFC 9162 Merkle tree. This package speaks the formats the
transparency ecosystem (Go's sumdb, Tessera, Sigsum, the public witness network) agrees on, so
that any of their clients and witnesses can follow, cosign and audit it without GovChain code:

* :mod:`.note` — c2sp.org/signed-note syntax (text, blank line, ``— name base64`` lines);
* :mod:`.vkeys` — Ed25519 note keys: key ids, verifier keys (vkeys), signer keys;
* :mod:`.verification` — opening a note: which known keys signed it;
* :mod:`.cosignature` — c2sp.org/tlog-cosignature, timestamped Ed25519 ``cosignature/v1``;
* :mod:`.checkpoint` — c2sp.org/tlog-checkpoint bodies, signed and opened;
* :mod:`.tiles` and :mod:`.tilestore` — c2sp.org/tlog-tiles: paths, tile bytes, entry bundles;
* :mod:`.witness_protocol` and :mod:`.witness` — c2sp.org/tlog-witness ``add-checkpoint``;
* :mod:`.policy` — a client's k-of-n rule over witness cosignatures.

Everything here is pure (no network, no database): the witness service, the ledger and the
gateway bring their own storage and HTTP.
"""
