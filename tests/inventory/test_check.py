"""`provision inventory check` on bad inventories: the exact lines a user sees, and exit status 2."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

SETTINGS = "group_vars/all/provision.yml"
VAULT = "group_vars/all/vault.yml"
SEE_EXAMPLE = "see inventory.example/group_vars/all/provision.yml"
PRIVATE_HINT = ("give the server's address on the internet; private addresses are for local test "
                "servers only (provision_sandbox: true, or provision init --sandbox)")


def settings_edit(**changes: Any) -> Callable[[Path], None]:
    """Set settings in provision.yml; None removes one."""
    def edit(inventory: Path) -> None:
        path = inventory / SETTINGS
        data = yaml.safe_load(path.read_text())
        data.update(changes)
        path.write_text(yaml.safe_dump({key: value for key, value in data.items() if value is not None},
                                       allow_unicode=True))
    return edit


def replace_line(file: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(inventory: Path) -> None:
        path = inventory / file
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
    return edit


def write_file(file: str, text: str) -> Callable[[Path], None]:
    return lambda inventory: (inventory / file).write_text(text)


CASES = {
    "missing domain": (settings_edit(provision_domains=None), [
        f"$S: provision_domains: is missing (hint: add it; {SEE_EXAMPLE})"]),
    "invalid IDN": (settings_edit(provision_domains=["example.org", "xn--zz.example"]), [
        '$S: provision_domains: "xn--zz.example" is not a valid domain name (invalid A-label) '
        "(hint: check the spelling; a name has up to 253 characters, each label 1 to 63)"]),
    "label too long": (settings_edit(provision_domains=["example.org", "a" * 64 + ".example"]), [
        f'$S: provision_domains: "{"a" * 64}.example" is not a valid domain name (label too long) '
        "(hint: check the spelling; a name has up to 253 characters, each label 1 to 63)"]),
    "underscore in domain": (settings_edit(provision_domains=["example.org", "bü_cher.example"]), [
        '$S: provision_domains: "bü_cher.example" contains an underscore '
        "(hint: host and mail domain names use letters, digits, hyphens and dots only)"]),
    "hostname not FQDN": (settings_edit(provision_hostname="mail"), [
        '$S: provision_hostname: "mail" is not a fully qualified domain name '
        "(hint: write the whole name with its domain, e.g. mail.example.org)"]),
    "private IPv4 without sandbox": (settings_edit(provision_public_ipv4="192.168.1.10"), [
        f"$S: provision_public_ipv4: 192.168.1.10 is a private or local address (hint: {PRIVATE_HINT})"]),
    "bad IPv6": (settings_edit(provision_public_ipv6="2001:db8::zz"), [
        '$S: provision_public_ipv6: "2001:db8::zz" is not an IPv6 address '
        "(hint: write it like 2001:db8::25, or leave the setting out)"]),
    "unknown TLS mode": (settings_edit(provision_tls_mode="letsencrypt"), [
        '$S: provision_tls_mode: "letsencrypt" is not one of acme, self-signed, files '
        "(hint: write one of acme, self-signed, files)"]),
    "files mode with missing cert": (
        settings_edit(provision_tls_mode="files", provision_acme_directory=None,
                      provision_tls_cert_file="tls/fullchain.pem", provision_tls_key_file="hosts.yml"), [
            "$S: provision_tls_cert_file: $D/tls/fullchain.pem does not exist "
            "(hint: give the file's path on this machine, absolute or relative to the inventory)",
            "$S: provision_tls_key_file: $D/hosts.yml holds no PEM PRIVATE KEY "
            "(hint: give the PEM file with the private key)"]),
    "files mode without key": (
        settings_edit(provision_tls_mode="files", provision_acme_directory=None,
                      provision_tls_cert_file="hosts.yml"), [
            "$S: provision_tls_cert_file: $D/hosts.yml holds no PEM CERTIFICATE "
            "(hint: give the PEM file with the certificate)",
            "$S: provision_tls_key_file: is missing "
            "(hint: give the file's path with provision_tls_mode: files)"]),
    "size limit out of range": (settings_edit(provision_message_size_limit_mb=2048), [
        "$S: provision_message_size_limit_mb: 2048 is out of range "
        "(hint: use a whole number from 1 to 1024)"]),
    "bad update policy": (settings_edit(provision_update_policy="securty"), [
        '$S: provision_update_policy: "securty" is not one of security, all, manual '
        "(hint: did you mean security?)"]),
    "first admin email outside domains": (
        settings_edit(provision_first_admin={"uid": "admin", "name": "Admin",
                                             "email": "admin@example.net"}), [
            '$S: provision_first_admin.email: "admin@example.net" is not in one of provision_domains '
            "(hint: give the first admin an address in one of the mail domains)"]),
    "unknown key with did-you-mean": (settings_edit(provision_dkim_selecter="mail"), [
        "$S: provision_dkim_selecter: is not a provision setting "
        "(hint: did you mean provision_dkim_selector?)"]),
    "secret in the clear file": (settings_edit(vault_smarthost_password="hunter2"), [
        "$S: vault_smarthost_password: is a secret in a file that is not encrypted "
        "(hint: move it to group_vars/all/vault.yml with ansible-vault edit)"]),
    "smarthost fields": (settings_edit(provision_smarthost={"host": "smtp.provider.example", "prot": 25}), [
        "$S: provision_smarthost.prot: is not known here (hint: did you mean port?)",
        "$S: provision_smarthost.username: is missing (hint: add username below provision_smarthost)"]),
    "smarthost without its password in the vault": (
        settings_edit(provision_smarthost={"host": "smtp.provider.example", "username": "acme"}), [
            "$V: vault_smarthost_password: is missing "
            "(hint: add it with: ansible-vault edit --vault-password-file $P $V)"]),
    "malformed YAML with line number": (
        replace_line(SETTINGS, "provision_hostname: mail.example.org",
                     "provision_hostname: mail: example.org"), [
            "$S: line 13 column 25: not valid YAML: mapping values are not allowed here "
            "(hint: check the indentation and quoting there and on the line above)"]),
    "key given twice": (
        replace_line(SETTINGS, "provision_hostname: mail.example.org",
                     "provision_hostname: mail.example.org\nprovision_hostname: mx.example.org"), [
            "$S: line 14 column 1: not valid YAML: provision_hostname is given twice "
            "(hint: check the indentation and quoting there and on the line above)"]),
    "two hosts": (write_file("hosts.yml", "all:\n  hosts:\n    a: {ansible_host: 203.0.113.1}\n"
                                          "    b: {ansible_host: 203.0.113.2}\n"), [
        "$H: all.hosts: must list exactly one host, the mail server "
        "(hint: write all: {hosts: {mail: {ansible_host: ADDRESS, ansible_user: root}}})"]),
    "host without address": (
        write_file("hosts.yml", "all:\n  hosts:\n    mail:\n      ansible_user: root\n"), [
            "$H: all.hosts.mail.ansible_host: is missing "
            "(hint: give the server's address or host name for ssh)"]),
    "vault in the clear": (write_file(VAULT, "vault_ldap_admin_password: hunter2\n"), [
        "$V: is not encrypted (hint: encrypt it: ansible-vault encrypt --vault-password-file $P $V)"]),
    "domain without DKIM key": (
        settings_edit(provision_domains=["example.org", "bücher.example", "example.net"]), [
        "$V: vault_dkim_private_keys.example.net: is missing (hint: make one with 'openssl genrsa 2048' "
        "and add it with: ansible-vault edit --vault-password-file $P $V)"]),
    "DNSBL codes that would count error answers": (
        settings_edit(postfix_postscreen_dnsbl_sites=[{"name": "zen.spamhaus.org", "codes": "127.255.255.254",
                                                       "weight": 3}]), [
            '$S: postfix_postscreen_dnsbl_sites: zen.spamhaus.org: codes "127.255.255.254" are not within '
            '127.0.x.x (hint: give only the list\'s listing answers, e.g. "127.0.0.2" or "127.0.0.[2..11]": '
            "its error answers (127.255.255.x) would refuse good mail)"]),
    "several problems at once": (
        settings_edit(provision_sandbox="yes", provision_hostname="mail", provision_public_ipv4="10.1.2.3",
                      provision_default_quota_mb=-1, provision_updates="all"), [
            "$S: provision_updates: is not a provision setting (hint: did you mean provision_update_policy?)",
            '$S: provision_sandbox: "yes" is not true or false (hint: write true or false, without quotes)',
            '$S: provision_hostname: "mail" is not a fully qualified domain name '
            "(hint: write the whole name with its domain, e.g. mail.example.org)",
            f"$S: provision_public_ipv4: 10.1.2.3 is a private or local address (hint: {PRIVATE_HINT})",
            "$S: provision_default_quota_mb: -1 is out of range (hint: use a whole number of 0 or more)"]),
}


@pytest.mark.parametrize(("edit", "expected"), CASES.values(), ids=CASES.keys())
def test_bad_inventory(cli, inventory: Path, edit: Callable[[Path], None], expected: list[str]) -> None:
    edit(inventory)
    run = cli("inventory", "check", str(inventory))
    places = {"$S": f"{inventory / SETTINGS}", "$V": f"{inventory / VAULT}",
              "$H": f"{inventory / 'hosts.yml'}", "$D": str(inventory),
              "$P": os.environ["PROVISION_VAULT_PASSWORD_FILE"]}
    lines = []
    for line in expected:
        for mark, place in places.items():
            line = line.replace(mark, place)
        lines.append(f"provision: {line}")
    count = len(expected)
    summary = f"provision: {inventory}: {count} problem{'s' if count > 1 else ''} in the inventory"
    assert (run.status, run.err.splitlines(), run.out) == (2, [*lines, summary], "")


def test_wrong_vault_password(cli, inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    monkeypatch.setenv("PROVISION_VAULT_PASSWORD_FILE", str(wrong))
    run = cli("inventory", "check", str(inventory))
    assert run.status == 2
    assert run.err.startswith(f"provision: {inventory / VAULT}: cannot be decrypted with {wrong} (")
    assert "(hint: set PROVISION_VAULT_PASSWORD_FILE to the file holding this inventory's vault password)" \
        in run.err


def test_problems_in_json(cli, inventory: Path) -> None:
    settings_edit(provision_hostname="mail")(inventory)
    run = cli("--json", "inventory", "check", str(inventory))
    assert run.status == 2
    assert yaml.safe_load(run.out)["problems"] == [
        f'{inventory / SETTINGS}: provision_hostname: "mail" is not a fully qualified domain name '
        "(hint: write the whole name with its domain, e.g. mail.example.org)"]
