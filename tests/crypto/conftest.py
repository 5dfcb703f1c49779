"""The crypto tests need the SM2 backend (gmssl-pyx wheels: x86-64 only)."""

from govchain.crypto import sm2

if not sm2.available():  # pragma: no cover - only on machines where gmssl-pyx has no wheel
    collect_ignore_glob = ["test_*.py"]
