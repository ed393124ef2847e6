"""The encrypted vault file, read and written by running the ansible-vault command.

The vault password is a file, never a value: the file named by the environment
variable PROVISION_VAULT_PASSWORD_FILE if that is set, else
~/.config/provision/vault/<name of the inventory directory>.password, which
`provision init` creates (mode 0600, in a 0700 directory) with a generated password.
Ansible reads the same file with --vault-password-file.

Secrets travel only through ansible-vault's stdin and stdout: never on a command
line or in a child's environment, never in a clear file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from provision import files
from provision.errors import UsageError
from provision.inventory import VAULT_FILE
from provision.inventory.secrets import password
from provision.process import run

PASSWORD_FILE_VARIABLE = "PROVISION_VAULT_PASSWORD_FILE"
VAULT_HEADER = "$ANSIBLE_VAULT;"

# The clear text of each vault this process decrypted, by ciphertext and password file: one command reads
# its vault in several places (the loader's checks, then the records or the connection), and each
# ansible-vault run costs half a second of CPU. The same ciphertext and password give the same clear text.
_decrypted: dict[tuple[str, str, bytes], str] = {}


class VaultError(UsageError):
    """The vault of one inventory cannot be read: what is wrong, about which file, and the fix."""

    def __init__(self, file: Path, what: str, hint: str):
        super().__init__(f"{file}: {what}", hint)
        self.file = file
        self.what = what


def password_file(directory: Path) -> Path:
    configured = os.environ.get(PASSWORD_FILE_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".config/provision/vault" / f"{directory.absolute().name}.password"


def ensure_password_file(directory: Path) -> Path:
    """The inventory's password file, made with a new password if there is none yet."""
    path = password_file(directory)
    if path.exists():
        return path
    if not os.environ.get(PASSWORD_FILE_VARIABLE):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # mkdir's mode is cut by the umask and skipped for an existing directory
    with files.Output(path, secret=True) as file:
        file.write(password(32) + "\n")
    return path


def _argv(action: str, key_file: Path) -> list[str]:
    return ["ansible-vault", action, "--vault-password-file", str(key_file), "--output", "-"]


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (PEM keys) as literal blocks, as a person would write them."""


_BlockDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def write(directory: Path, secrets: dict[str, Any], key_file: Path | None = None) -> Path:
    """Encrypt secrets into the inventory's vault file, with key_file (default: the inventory's own)."""
    clear = yaml.dump(secrets, Dumper=_BlockDumper, sort_keys=True, default_flow_style=False)
    done = run([*_argv("encrypt", key_file or password_file(directory)), "-"], input=clear)
    target = directory / VAULT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(done.stdout)
    return target


def read(directory: Path) -> dict[str, Any]:
    """The decrypted secrets of the inventory; VaultError says why they cannot be read."""
    target = directory / VAULT_FILE
    try:
        encrypted = files.read_text(target)
    except files.Refused as refused:
        raise VaultError(target, refused.what,
                         "run provision init to make an inventory with its vault") from None
    if not encrypted.startswith(VAULT_HEADER):
        raise VaultError(target, "is not encrypted", f"encrypt it: ansible-vault encrypt "
                         f"--vault-password-file {password_file(directory)} {target}")
    key_file = password_file(directory)
    if not key_file.is_file():
        raise VaultError(target, f"its password file {key_file} does not exist",
                         f"set {PASSWORD_FILE_VARIABLE} to the file holding this inventory's vault password")
    try:
        secrets = yaml.safe_load(_decrypt(target, encrypted, key_file))
    except yaml.YAMLError:
        secrets = None  # the decrypted text is not shown: it holds the secrets
    if not isinstance(secrets, dict):
        raise VaultError(target, "does not hold a mapping of vault_* names to secrets",
                         f"fix it with: ansible-vault edit --vault-password-file {key_file} {target}")
    return secrets


def _decrypt(target: Path, encrypted: str, key_file: Path) -> str:
    """The clear text of target, from ansible-vault once per process."""
    try:
        seen = (encrypted, str(key_file), key_file.read_bytes())
    except OSError:
        seen = None  # ansible-vault says what is wrong with the password file
    if seen is not None and seen in _decrypted:
        return _decrypted[seen]
    done = run([*_argv("decrypt", key_file), str(target)], check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["ansible-vault failed"])[-1]
        raise VaultError(target, f"cannot be decrypted with {key_file} ({reason})",
                         f"set {PASSWORD_FILE_VARIABLE} to the file holding this inventory's vault password")
    if seen:
        _decrypted[seen] = done.stdout
    return done.stdout
