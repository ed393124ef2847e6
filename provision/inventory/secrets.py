"""Generating the vault's secrets: service passwords and DKIM keys, and the DKIM DNS record."""

from __future__ import annotations

import base64
import secrets
import string

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PASSWORD_NAMES = (
    "vault_ldap_admin_password",
    "vault_ldap_postfix_password",
    "vault_ldap_dovecot_password",
    "vault_first_admin_password",
)
DKIM_KEYS = "vault_dkim_private_keys"  # mapping: domain (A-label) -> PEM
SMARTHOST_PASSWORD = "vault_smarthost_password"  # only with provision_smarthost, set by hand
WEBMAIL_DES_KEY = "vault_webmail_des_key"  # Roundcube's session key, needed with provision_webmail

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_"  # URL-safe: no quoting anywhere
DKIM_BITS = 2048


def required_names(smarthost: bool, webmail: bool = False) -> list[str]:
    return [*PASSWORD_NAMES, DKIM_KEYS, *([SMARTHOST_PASSWORD] if smarthost else []),
            *([WEBMAIL_DES_KEY] if webmail else [])]


def password(length: int = 24) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def dkim_key() -> str:
    """A new RSA key as traditional PEM ("BEGIN RSA PRIVATE KEY"), the form opendkim-genkey writes;
    OpenDKIM and Rspamd both read it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=DKIM_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def new_vault(domains: list[str] | tuple[str, ...]) -> dict[str, object]:
    """Every secret a new inventory needs: one password per name, one DKIM key per domain."""
    vault: dict[str, object] = {name: password() for name in PASSWORD_NAMES}
    vault[DKIM_KEYS] = {domain: dkim_key() for domain in domains}
    vault[WEBMAIL_DES_KEY] = password()  # made now, so turning the webmail on needs no vault edit
    return vault


def load_dkim_key(pem: str) -> rsa.RSAPrivateKey:
    """The private key in pem; ValueError unless it is an unencrypted RSA key of 2048 bits or more."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"is not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("is not an RSA key")
    if key.key_size < DKIM_BITS:
        raise ValueError(f"has {key.key_size} bits, fewer than {DKIM_BITS}")
    return key


def dkim_record(private_key_pem: str) -> str:
    """The TXT record value to publish at SELECTOR._domainkey.DOMAIN for this private key."""
    public = load_dkim_key(private_key_pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
