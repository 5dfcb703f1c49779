"""Importing this module registers every event type of the platform in ``EVENT_TYPES``."""

from govchain.protocol import contracts, events, records  # noqa: F401  (imported for their registrations)
from govchain.protocol import evaluation, sharing  # noqa: F401  (ratings; data sharing between departments)
