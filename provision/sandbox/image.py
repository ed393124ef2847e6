"""The cached root filesystem every sandbox boots from, built once with debootstrap."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from provision.console import Console
from provision.process import run
from provision.sandbox.paths import IMAGES_DIR, private

MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# What Ansible and ssh need to manage the sandbox like any other Debian server.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt",
            "iproute2", "ca-certificates")
# Bump when the build or preparation changes, so that cached images are rebuilt.
REVISION = 2
_MARKER = ".provision-image"


def image_path(release: str) -> Path:
    return IMAGES_DIR / f"{release}-r{REVISION}"


def ensure_image(release: str, proxy_url: str, console: Console) -> Path:
    """Return the cached image for `release`, building it first if needed."""
    path = image_path(release)
    private(IMAGES_DIR)
    if (path / _MARKER).exists():
        return path
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    console.info(f"building the Debian {release} image with debootstrap (once; cached in {IMAGES_DIR})")
    env = {**os.environ, "http_proxy": proxy_url}
    run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", release,
         str(partial), MIRROR], env=env, timeout=1200)
    _prepare(partial, release)
    (partial / _MARKER).write_text(f"{release} revision {REVISION}\n")
    partial.rename(path)
    return path


def _prepare(root: Path, release: str) -> None:
    """Make the tree a template: no identity of its own, Debian's archive as apt source."""
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: {MIRROR}\nSuites: {release} {release}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {SECURITY_MIRROR}\nSuites: {release}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    (root / "etc/hostname").write_text("localhost\n")
    # debootstrap copied the build machine's resolver; sandboxes have none of their own.
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("# sandboxes have no resolver; names live in /etc/hosts\n")
    # debootstrap fetched the lists of the release alone, minutes ago. Dated back, they make the first
    # apply's `apt update` (run when the lists are an hour old) fetch -updates and -security too:
    # otherwise a server made from a new image goes without security updates for its first hour.
    (root / "var/lib/apt/periodic/update-success-stamp").unlink(missing_ok=True)
    os.utime(root / "var/lib/apt/lists", (0, 0))
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)
