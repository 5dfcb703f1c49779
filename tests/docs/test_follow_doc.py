"""docs/follow-the-chain.md states the wire contract in words; these pin its words to the code,
so a change of the protocol cannot leave the page behind unnoticed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from govchain.bus import subjects
from govchain.bus.permissions import reader_user
from govchain.protocol.batchproof import BATCH_ROOT_CONTEXT, batch_root_message
from govchain.protocol.block import BlockHeader
from govchain.protocol.envelope import Envelope

DOC = Path(__file__).resolve().parents[2] / "docs" / "follow-the-chain.md"
TEXT = DOC.read_text()


def table_names(after: str) -> list[str]:
    """The backticked names in the first column of the first table after ``after``."""
    rows = TEXT.split(after, 1)[1].split("\n\n| ", 1)[1].split("\n\n", 1)[0].splitlines()
    return [m.group(1) for row in rows if (m := re.match(r"\|? ?`([^`]+)`", row))]


def test_the_read_only_user_it_shows_is_the_one_the_platform_grants() -> None:
    snippet = TEXT.split("publish:   { allow: ", 1)[1].split("] }", 1)[0] + "]"
    assert json.loads(snippet.replace("\n", " ")) == reader_user("follower").publish


def test_every_header_field_and_envelope_attribute_is_explained() -> None:
    header = [name.removeprefix("header.") for name in table_names("## 3. The block message")]
    assert set(header) >= set(BlockHeader.model_fields)
    assert set(table_names("## 7. Events and their signatures")) >= set(Envelope.model_fields) - {"batchproof"}


def test_names_and_bytes_it_states_are_the_codes() -> None:
    assert f"stream | `{subjects.BLOCKS_STREAM}`" in TEXT
    assert f"`{subjects.BLOCKS_SUBJECT}`, one message per block" in TEXT
    assert subjects.block_sequence(7) == 8 and "sequence *h* + 1" in TEXT
    stated = '{"context":"' + BATCH_ROOT_CONTEXT + '","root":"<hex of r>","size":<size>}'
    assert stated in TEXT
    assert batch_root_message(bytes(32), 3) == stated.replace("<hex of r>", "0" * 64).replace("<size>", "3").encode()


def test_its_links_lead_somewhere() -> None:
    for target in re.findall(r"\]\(([^)#]+)", TEXT):
        assert (DOC.parent / target).exists(), target
