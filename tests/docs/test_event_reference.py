"""docs/event-types.md is the generator's output, so it cannot drift from the type registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from govchain.protocol import reference
from govchain.protocol.policy import DEFAULT_POLICY
from govchain.protocol.registry import EVENT_TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "event-types.md"


def test_the_committed_reference_is_the_generators_output() -> None:
    assert DOC.read_text() == reference.render(), f"docs/event-types.md is stale: run `{reference.COMMAND}`"


def test_the_documented_command_writes_it() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "govchain.protocol.reference"], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout == DOC.read_text()


def test_every_registered_type_and_version_has_its_section() -> None:
    text = DOC.read_text()
    types = list(EVENT_TYPES)
    assert len(types) >= 29
    for event_type in types:
        heading = f"### {event_type.name} v{event_type.version}"
        assert text.count(heading + "\n") == 1, f"{heading} missing"
        assert f"(#{reference.anchor(heading[4:])})" in text, f"{event_type.name} is not in the summary table"
        assert event_type.name in reference.EXAMPLES or event_type.name in reference.NO_EXAMPLE


def test_every_type_says_who_may_publish_it() -> None:
    """A structural rule or a default grant for each; and no grant names a type that does not exist."""
    names = {t.name for t in EVENT_TYPES}
    assert set(DEFAULT_POLICY.publish) <= names
    assert reference.RULED == set(reference.RULES)
    for name in names:
        assert name in reference.RULED or DEFAULT_POLICY.publish.get(name), f"nobody may publish {name}"


@pytest.mark.parametrize("name", sorted(reference.EXAMPLES))
def test_each_example_payload_is_valid(name: str) -> None:
    EVENT_TYPES.parse_data(name, 1, reference.EXAMPLES[name])


def test_the_json_schemas_are_printed_for_machines() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "govchain.protocol.reference", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    schemas = json.loads(run.stdout)
    assert set(schemas) == {f"{t.name}/v{t.version}" for t in EVENT_TYPES}
    assert schemas["document.registered/v1"]["required"] == ["document_id", "sha256", "title"]
