"""The NATS users a deployment gets (`govchain nats-config`), as data: who may do what."""

from __future__ import annotations

import pytest

from govchain.bus.permissions import Deployment, reader_user, users_for


def test_a_reader_follows_the_three_streams_and_asks_only_the_ledger() -> None:
    follower = reader_user("follower")
    assert follower.subscribe == ["_INBOX.follower.>"] and not follower.responds
    assert "gov.ledger.>" in follower.publish
    for stream in ("BLOCKS", "REJECTED", "CHECKPOINTS"):
        assert f"$JS.API.DIRECT.GET.{stream}" in follower.publish
    assert not [s for s in follower.publish if s.startswith(("gov.events", "$JS.API.CONSUMER", "gov.identity"))]
    assert "$JS.API.DIRECT.GET.EVENTS" not in follower.publish  # the intake is the orderer's alone


def test_readers_come_after_services_and_departments_and_never_share_their_names() -> None:
    users = users_for(Deployment(services={"registry"}, departments={"tax"}, readers={"bi", "archive"}))
    assert [u.name for u in users][-2:] == ["archive", "bi"]
    for clash in ("tax", "registry", "admin"):
        with pytest.raises(ValueError, match=clash):
            users_for(Deployment(services={"registry"}, departments={"tax"}, readers={clash}))
