"""The registry of event types: ``(type, schema version)`` → pydantic model of ``data``.

One registry for the whole platform, so the ledger, every projection and every auditor
agree on what a valid payload is. An unknown type or an invalid payload is a typed
rejection, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from govchain.protocol.errors import EventRejected, RejectionReason

Model = TypeVar("Model", bound=type[BaseModel])


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    version: int
    model: type[BaseModel]
    changes_state: bool
    description: str


class EventTypeRegistry:
    def __init__(self) -> None:
        self._types: dict[tuple[str, int], EventType] = {}
        self._state_changing_names: set[str] = set()

    def register(self, name: str, version: int, *, changes_state: bool = False) -> Callable[[Model], Model]:
        """Class decorator registering a payload model.

        ``changes_state`` marks events that change keys, roles or policy: the block cutter
        flushes the pending batch before them, and the orderer persists its state after them.
        """

        def decorate(model: Model) -> Model:
            key = (name, version)
            if key in self._types:
                raise ValueError(f"event type {name} v{version} is registered twice")
            doc = (model.__doc__ or "").strip().splitlines()
            self._types[key] = EventType(name, version, model, changes_state, doc[0] if doc else "")
            if changes_state:
                self._state_changing_names.add(name)
            return model

        return decorate

    def resolve(self, name: str, version: int) -> EventType:
        try:
            return self._types[(name, version)]
        except KeyError:
            known = sorted(v for (n, v) in self._types if n == name)
            hint = f"; known versions: {known}" if known else ""
            raise EventRejected(RejectionReason.UNKNOWN_TYPE, f"no event type {name} v{version}{hint}") from None

    def parse_data(self, name: str, version: int, data: dict[str, Any]) -> BaseModel:
        """Validate an event's ``data`` against its registered model."""
        event_type = self.resolve(name, version)
        try:
            return event_type.model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "data"
            raise EventRejected(RejectionReason.INVALID_PAYLOAD, f"{name} v{version}: {where}: {first['msg']}") from exc

    def changes_state(self, name: str, version: int) -> bool:
        event_type = self._types.get((name, version))
        return event_type is not None and event_type.changes_state

    def any_version_changes_state(self, name: str) -> bool:
        """Judged from the type name alone, as the block cutter must before parsing."""
        return name in self._state_changing_names

    def __iter__(self) -> Iterator[EventType]:
        return iter(sorted(self._types.values(), key=lambda t: (t.name, t.version)))

    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """Published JSON Schemas of every payload, keyed ``type/vN``."""
        return {f"{t.name}/v{t.version}": t.model.model_json_schema() for t in self}


EVENT_TYPES = EventTypeRegistry()
"""The platform's one registry; modules register their types on import of ``govchain.protocol.events``."""
