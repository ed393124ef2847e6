"""How provision, ssh and Ansible reach a sandbox: keys, known host key, ssh config, inventory."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from provision.process import run
from provision.sandbox.paths import INVENTORY, SSH_CONFIG, STATE_DIR, sandbox_dir

if TYPE_CHECKING:
    from provision.sandbox.machine import Sandbox


def install_keys(directory: Path, root: Path) -> None:
    """A login key for root and a host key of the sandbox's own, known in advance."""
    client_key = directory / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"provision-{directory.name}",
         "-f", str(client_key)])
    host_key = root / "etc/ssh/ssh_host_ed25519_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(host_key)])
    (root / "etc/ssh/sshd_config.d/00-provision-sandbox.conf").write_text(
        "# managed by provision: the sandbox's host key, made when it was created\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    )
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    (directory / "host_key.pub").write_text(host_key.with_suffix(".pub").read_text())


def host_config(box: Sandbox) -> str:
    directory = box.directory
    return (
        f"Host {box.name} {box.hostname}\n"
        f"  HostName {box.address}\n"
        "  User root\n"
        f"  IdentityFile {directory / 'id_ed25519'}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {directory / 'known_hosts'}\n"
        "  StrictHostKeyChecking yes\n"
        "  LogLevel ERROR\n"
    )


def write_host_files(box: Sandbox) -> None:
    key = (box.directory / "host_key.pub").read_text().split()[:2]
    (box.directory / "known_hosts").write_text(f"{box.address},{box.hostname} {' '.join(key)}\n")
    (box.directory / "ssh_config").write_text(host_config(box))


def write_shared_files(boxes: Iterable[Sandbox]) -> None:
    """One ssh config and one Ansible inventory listing every sandbox."""
    boxes = list(boxes)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    SSH_CONFIG.write_text("# managed by provision: the running sandboxes\n"
                          + "\n".join(host_config(box) for box in boxes))
    hosts = {
        box.name: {"ansible_host": box.address, "ansible_user": "root",
                   "ansible_python_interpreter": "/usr/bin/python3", "sandbox_hostname": box.hostname,
                   **ansible_connection_vars(box)}
        for box in boxes
    }
    INVENTORY.write_text("# managed by provision: the running sandboxes\n"
                         + yaml.safe_dump({"all": {"children": {"sandboxes": {"hosts": hosts}}}},
                                          sort_keys=True))


def ansible_connection_vars(box: Sandbox) -> dict[str, str]:
    """How Ansible logs in: the sandbox's own key, and only its known host key."""
    return {
        "ansible_ssh_private_key_file": str(box.directory / "id_ed25519"),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={box.directory / 'known_hosts'}"
                                   " -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
    }


def ssh_argv(name: str, *, batch: bool = True) -> list[str]:
    """OpenSSH to the sandbox, for `provision sandbox ssh`: a person's terminal, with ssh's own prompts,
    escapes and terminal handling (provision's own commands go through provision.remote); batch mode
    never prompts, which suits everything but a login."""
    return ["ssh", "-F", str(sandbox_dir(name) / "ssh_config"), "-o", f"BatchMode={'yes' if batch else 'no'}",
            "-o", "ConnectTimeout=10", name]


def ssh(box: Sandbox, argv: Sequence[str], *, timeout: float = 120, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run argv on the sandbox, argument boundaries kept exactly; check: a failure raises CommandFailed."""
    from provision import remote  # paramiko costs commands that only look a sandbox up (init) 0.1 s

    with remote.connect(remote.login_to_sandbox(box)) as connection:
        done = connection.run(argv, stdin=(input or "").encode(), timeout=timeout, check=check)
    return subprocess.CompletedProcess(list(argv), done.status, done.text,
                                       done.stderr.decode(errors="replace"))
