"""`provision init`, `provision secret` and the example inventory, with the real ansible-vault."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_private_key

from provision.inventory.secrets import dkim_record

REPO = Path(__file__).resolve().parents[2]
VAULT = "group_vars/all/vault.yml"
NAMES = ["vault_dkim_private_keys.example.org", "vault_dkim_private_keys.xn--bcher-kva.example",
         "vault_first_admin_password", "vault_ldap_admin_password", "vault_ldap_dovecot_password",
         "vault_ldap_postfix_password", "vault_webmail_des_key"]


def vault_view(inventory: Path, password_file: Path) -> dict:
    """The vault as ansible-vault itself shows it."""
    ansible_vault = Path(sys.executable).parent / "ansible-vault"  # the venv's: PATH may not name it
    done = subprocess.run([str(ansible_vault), "view", "--vault-password-file", str(password_file),
                           str(inventory / VAULT)], capture_output=True, text=True, check=True,
                          env={**os.environ, "PAGER": "cat"})
    return yaml.safe_load(done.stdout)


def secret_values(vault: dict) -> list[str]:
    """Every secret, and each line of each key, as it could leak into a file or output."""
    values = [value for name, value in vault.items() if isinstance(value, str)]
    for pem in vault["vault_dkim_private_keys"].values():
        values += [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
    return values


def test_init_then_check(cli, init_options: tuple[str, ...], tmp_path: Path, home: Path) -> None:
    target = tmp_path / "acme"
    made = cli("init", str(target), *init_options)
    assert made.status == 0, made.err
    password_file = home / ".config/provision/vault/acme.password"
    assert f"vault password file: {password_file}" in made.out
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(password_file.parent.stat().st_mode) == 0o700

    checked = cli("inventory", "check", str(target))
    assert (checked.status, checked.err) == (0, "")
    assert "domains       example.org, xn--bcher-kva.example" in checked.out
    assert checked.out.endswith(f"{target}: the inventory and its vault are valid\n")

    vault = vault_view(target, password_file)
    assert sorted(vault) == ["vault_dkim_private_keys", "vault_first_admin_password",
                             "vault_ldap_admin_password", "vault_ldap_dovecot_password",
                             "vault_ldap_postfix_password", "vault_webmail_des_key"]
    texts = [path.read_text() for path in target.rglob("*") if path.is_file()]
    texts += [made.out, made.err, checked.out, checked.err]
    assert not [value for value in secret_values(vault) if any(value in text for text in texts)]
    assert (target / VAULT).read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")


def test_init_json_has_paths_and_settings_but_no_secret(cli, init_options: tuple[str, ...], tmp_path: Path,
                                                        home: Path) -> None:
    made = cli("--json", "init", str(tmp_path / "acme"), *init_options)
    result = json.loads(made.out)
    assert result["settings"]["provision_domains"] == ["example.org", "xn--bcher-kva.example"]
    assert result["vault_password_file"] == str(home / ".config/provision/vault/acme.password")
    vault = vault_view(tmp_path / "acme", Path(result["vault_password_file"]))
    assert not [value for value in secret_values(vault) if value in made.out + made.err]


def test_secret_equals_ansible_vault_view(cli, inventory: Path) -> None:
    vault = vault_view(inventory, Path(os.environ["PROVISION_VAULT_PASSWORD_FILE"]))
    for name in NAMES:
        run = cli("secret", str(inventory), name)
        group, _, key = name.partition(".")
        expected = vault[group][key] if key else vault[group]
        assert (run.status, run.out.removesuffix("\n"), run.err) == (0, expected.removesuffix("\n"), "")


def test_secret_unknown_name_lists_the_names(cli, inventory: Path) -> None:
    run = cli("secret", str(inventory), "vault_root_password")
    assert (run.status, run.out) == (2, "")
    assert run.err.splitlines() == [
        f"provision: {inventory / VAULT} holds no secret named vault_root_password",
        f"provision: hint: the names are: {', '.join(NAMES)}",
    ]


def test_dkim_record_is_the_public_key(cli, inventory: Path) -> None:
    pem = cli("secret", str(inventory), "vault_dkim_private_keys.example.org").out
    record = dkim_record(pem)
    tags = dict(part.split("=", 1) for part in record.split("; "))
    assert list(tags)[:2] == ["v", "k"] and tags["v"] == "DKIM1" and tags["k"] == "rsa"
    public = load_der_public_key(base64.b64decode(tags["p"], validate=True))
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    assert public.public_numbers() == load_pem_private_key(pem.encode(), None).public_key().public_numbers()
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----\n")


def test_init_refuses_a_non_empty_directory(cli, init_options: tuple[str, ...], tmp_path: Path) -> None:
    target = tmp_path / "acme"
    target.mkdir()
    (target / "notes.txt").write_text("keep me\n")
    run = cli("init", str(target), *init_options)
    assert (run.status, run.out) == (2, "")
    assert run.err.splitlines() == [
        f"provision: {target} exists and is not empty",
        "provision: hint: give a new or empty directory; init never overwrites an inventory",
    ]
    assert [path.name for path in target.iterdir()] == ["notes.txt"]


def test_init_reports_every_bad_option_and_writes_nothing(cli, tmp_path: Path) -> None:
    target = tmp_path / "acme"
    run = cli("init", str(target), "--domain", "a_b.example", "--domain", "Bücher.example",
              "--domain", "xn--bcher-kva.example.", "--hostname", "mail", "--host", "mail.a.example")
    assert run.status == 2
    assert run.err.splitlines() == [
        'provision: --domain: "a_b.example" contains an underscore '
        "(hint: host and mail domain names use letters, digits, hyphens and dots only)",
        "provision: --domain: xn--bcher-kva.example is given more than once (hint: give each domain once)",
        "provision: --public-ipv4: is missing (hint: give the server's public IPv4 address; "
        "it defaults to --host only when that is an IPv4 address)",
        'provision: --hostname: "mail" is not a fully qualified domain name '
        "(hint: write the whole name with its domain, e.g. mail.example.org)",
        f"provision: nothing was written to {target}",
    ]
    assert not target.exists()


def test_init_sandbox_allows_a_private_address(cli, tmp_path: Path) -> None:
    target = tmp_path / "lab"
    run = cli("--json", "init", str(target), "--domain", "lab.example", "--hostname", "mail.lab.example",
              "--host", "10.0.3.7", "--sandbox")
    assert run.status == 0, run.err
    settings = json.loads(run.out)["settings"]
    assert (settings["provision_sandbox"], settings["provision_tls_mode"]) == (True, "self-signed")


def test_ansible_vars_names(cli, inventory: Path) -> None:
    """The variables the roles consume; a change here must be agreed with the role authors."""
    settings = json.loads(cli("--json", "inventory", "check", str(inventory)).out)["settings"]
    assert settings == {
        "provision_acme_ca_file": None,
        "provision_acme_directory": "https://acme-v02.api.letsencrypt.org/directory",
        "provision_admin_email": "admin@example.org",
        "provision_antivirus": False,
        "provision_default_quota_mb": 10240,
        "provision_dkim_selector": "mail",
        "provision_domains": ["example.org", "xn--bcher-kva.example"],
        "provision_first_admin": {"email": "admin@example.org", "name": "Administrator", "uid": "admin"},
        "provision_hostname": "mail.example.org",
        "provision_message_size_limit_mb": 50,
        "provision_public_ipv4": "203.0.113.25",
        "provision_public_ipv6": "2001:db8::25",
        "provision_sandbox": False,
        "provision_smarthost": None,
        "provision_tls_cert_file": None,
        "provision_tls_key_file": None,
        "provision_tls_mode": "acme",
        "provision_update_policy": "security",
        "provision_webmail": False,
    }


def test_unicode_domains_reach_ansible_as_a_labels(cli, inventory: Path) -> None:
    path = inventory / "group_vars/all/provision.yml"
    text = path.read_text().replace("  - xn--bcher-kva.example  # bücher.example", "  - Bücher.Example.")
    path.write_text(text)
    run = cli("--json", "inventory", "check", str(inventory))
    assert json.loads(run.out)["settings"]["provision_domains"] == ["example.org", "xn--bcher-kva.example"]


@pytest.mark.parametrize("how", ["in-process", "child process"])
def test_the_example_inventory_validates(cli, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    example = REPO / "inventory.example"
    monkeypatch.setenv("PROVISION_VAULT_PASSWORD_FILE", str(example / "vault-password.example"))
    if how == "in-process":
        run = cli("inventory", "check", str(example))
        assert (run.status, run.err) == (0, ""), run.err
    else:
        done = subprocess.run([sys.executable, "-m", "provision", "inventory", "check", "inventory.example"],
                              cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
