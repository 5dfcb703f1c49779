"""The hardening tests run against a real ledger: re-use the integration fixtures
(``ledger`` on a fresh embedded NATS server per test; ``nats_server`` comes from tests/conftest.py)."""

from tests.integration.conftest import chain_dir, ledger  # noqa: F401  (re-exported fixtures)
