"""Importing this module registers every event type of the platform in ``EVENT_TYPES``."""

from govchain.protocol import contracts, evaluation, events, records, sharing  # noqa: F401  (imported for their registrations)  # noqa: F401  (ratings; data sharing between departments)
