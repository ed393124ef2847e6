"""provision.layout names what the roles set up where the roles name it: the same values."""

from __future__ import annotations

import pytest

from provision import layout
from tests.programs import PLAYBOOKS, defaults, render

DOMAINS = ["mail.example.co.uk", "example.org"]


@pytest.mark.parametrize("role, variable", [
    ("directory", "directory_base_dn"), ("postfix", "postfix_ldap_base_dn"),
    ("dovecot", "dovecot_ldap_base_dn"), ("radicale", "radicale_ldap_base_dn")])
def test_every_role_has_the_base_dn_of_the_package(role, variable):
    rendered = render(f"{{{{ {variable} }}}}", defaults(role, provision_domains=DOMAINS))
    assert rendered == layout.base_dn(DOMAINS[0]) == "dc=mail,dc=example,dc=co,dc=uk"


@pytest.mark.parametrize("role, variable", [
    ("tls", "tls_certificate"), ("directory", "directory_tls_certificate"),
    ("postfix", "postfix_tls_certificate"), ("dovecot", "dovecot_tls_certificate"),
    ("web", "web_tls_certificate")])
def test_every_role_has_the_certificate_of_the_package(role, variable):
    assert render(f"{{{{ {variable} }}}}", defaults(role, provision_domains=DOMAINS)) == layout.CERTIFICATE


def test_the_radicale_paths_are_the_roles():
    variables = defaults("radicale", provision_domains=DOMAINS)
    assert render("{{ radicale_storage }}", variables) == layout.RADICALE_STORAGE
    assert layout.COLLECTIONS.removesuffix("/collection-root") == layout.RADICALE_STORAGE
    assert render("{{ radicale_data }}", variables) == layout.DAV_DATA
    profiles = render("{{ web_profiles }}", defaults("web", provision_domains=DOMAINS))
    assert profiles == f"{layout.DAV_DATA}/profiles"
    assert render("{{ radicale_shares_file }}", variables) == layout.SHARES
    # provision-dav-sync and the plugin put the login map there, in radicale_data.
    assert layout.LOGINS.removesuffix("/logins.json") == layout.DAV_DATA
    files = PLAYBOOKS / "roles/radicale/files"
    assert (files / layout.DAV_SYNC.lstrip("/")).is_file()
    assert (files / layout.RADICALE_STORAGE_PROGRAM.lstrip("/")).is_file()


def test_the_ports_between_roles_agree():
    postfix = render("{{ postfix_milters | join(' ') }}", defaults("postfix"))
    dkim = render("{{ dkim_socket }}", defaults("dkim"))
    rspamd = render("{{ rspamd_milter_address }}", defaults("rspamd"))
    # Rspamd first (its Authentication-Results and verdicts), then OpenDKIM, which signs.
    assert postfix == "inet:127.0.0.1:11332 inet:127.0.0.1:8891"
    assert dkim == "inet:8891@127.0.0.1" and rspamd == "127.0.0.1:11332"
    radicale = render("{{ radicale_listen }}", defaults("radicale", provision_domains=DOMAINS))
    web = render("{{ web_radicale }}", defaults("web", provision_domains=DOMAINS))
    assert radicale == web == "127.0.0.1:5232"
