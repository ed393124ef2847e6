"""The delegations file's format and changes (no server needed)."""

from __future__ import annotations

import pytest

from provision.calendars import shares
from provision.calendars.shares import Access, Share
from provision.errors import UsageError


def test_grant_then_revoke_round_trips_through_the_file():
    table = shares.grant({}, Share("anna/calendar", "ben", Access.READ))
    table = shares.grant(table, Share("anna/calendar", "carl", Access.WRITE))
    table = shares.grant(table, Share("anna/calendar", "ben", Access.WRITE))  # a second grant replaces
    text = shares.render(table)
    assert shares.parse(text) == {"anna/calendar": {"ben": "rw", "carl": "rw"}}
    revoked = shares.revoke(shares.parse(text), "anna/calendar", "ben")
    assert shares.listed(revoked) == [Share("anna/calendar", "carl", Access.WRITE)]
    assert shares.render(shares.revoke(revoked, "anna/calendar", "carl")) == "{}\n"


def test_an_empty_or_missing_file_shares_nothing():
    assert shares.parse("") == {} and shares.parse("\n") == {}


@pytest.mark.parametrize("text", ["[]", '{"anna/calendar": ["ben"]}', "{"])
def test_a_damaged_file_is_an_error(text):
    with pytest.raises(ValueError):
        shares.parse(text)


@pytest.mark.parametrize("value", ["anna", "anna/", "/anna/calendar/x", "Anna/calendar", "anna/../x",
                                   "anna/.Radicale.props"])
def test_only_a_persons_collection_can_be_shared(value):
    with pytest.raises(UsageError):
        shares.collection(value)


def test_collection_accepts_slashes_around_it():
    assert shares.collection("/anna/tasks/") == ("anna", "tasks")
