"""provision/bans.py: what `fail2ban-client banned` prints, read as bans."""

from __future__ import annotations

import pytest

from provision.bans import Ban, parse


def test_every_jails_addresses_are_read_in_address_order():
    output = ("[{'sshd': ['198.51.100.9']}, {'recidive': []}, "
              "{'provision-dovecot': ['2001:db8::7', '198.51.100.7']}]\n")
    assert parse(output) == [Ban("provision-dovecot", "198.51.100.7"), Ban("sshd", "198.51.100.9"),
                             Ban("provision-dovecot", "2001:db8::7")]


def test_no_ban_is_an_empty_list():
    assert parse("[{'sshd': []}, {'postfix-sasl': []}]") == []


@pytest.mark.parametrize("output", ["", "Failed to access socket path", "[{'sshd': ['not-an-address']}]",
                                    "__import__('os')"])
def test_anything_else_is_refused_as_not_the_list(output):
    with pytest.raises(ValueError, match="not its list"):
        parse(output)
