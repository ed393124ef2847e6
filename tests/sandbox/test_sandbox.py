"""provision sandbox against the real thing: nspawn, network namespaces, the apt proxy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from provision.sandbox.image import image_path
from tests.conftest import provision, sandbox_name, start_sandbox, stop_sandbox

# The refusals too: they run `sandbox up` and read the host's network state, as root.
pytestmark = pytest.mark.sandbox

PROXY_LOG = Path("/var/lib/provision/sandbox/apt-proxy/log/apt-cacher.log")


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


def _traces(name: str) -> dict[str, object]:
    """What a sandbox can leave behind on the host (other sandboxes may come and go meanwhile)."""
    mounts = Path("/proc/mounts").read_text()
    processes = subprocess.run(["pgrep", "-a", "-f", f"--machine={name}"], capture_output=True,
                               text=True).stdout
    return {
        "netns": [ns for ns in _ip("netns", "list").split() if ns == f"provision-{name}"],
        "links": [link for link in (line.split(":")[1].strip() for line in _ip("-o", "link").splitlines())
                  if link.split("@")[0] == f"pv-{name}"],
        "mounts": [line for line in mounts.splitlines() if f"/hosts/{name}/" in line],
        "processes": processes.strip(),
    }


def test_sandbox_boots_systemd(sandbox):
    assert sandbox.ssh("systemctl is-system-running").stdout.strip() == "running"
    assert sandbox.ssh("hostname --fqdn").stdout.strip() == sandbox.hostname


def test_apt_installs_through_the_proxy(sandbox):
    sandbox.ssh("apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello")
    assert sandbox.ssh("hello").stdout.strip() == "Hello, world!"
    assert "/hello_" in PROXY_LOG.read_text(errors="replace"), "the package did not come through the proxy"


def test_list_reports_the_sandbox(sandbox):
    listed = json.loads(provision("--json", "sandbox", "list").stdout)
    assert {"name": sandbox.name, "address": sandbox.address, "state": "running",
            "hostname": sandbox.hostname, "release": "trixie"} in listed
    table = provision("sandbox", "list").stdout
    assert sandbox.name in table and sandbox.address in table


def test_two_sandboxes_reach_each_other(sandbox):
    other = start_sandbox(sandbox_name("peer"))
    try:
        probe = f"python3 -c \"import socket; socket.create_connection(('{sandbox.address}', 22), 5)\""
        done = provision("sandbox", "ssh", other.name, "--", probe)
        assert done.returncode == 0, done.stderr
        assert other.address != sandbox.address
    finally:
        stop_sandbox(other.name)


def test_down_leaves_nothing_behind(sandbox):
    before = _traces(sandbox_name("gone"))
    start_sandbox(sandbox_name("gone"))
    assert _traces(sandbox_name("gone")) != before
    stop_sandbox(sandbox_name("gone"))
    assert _traces(sandbox_name("gone")) == before
    assert not Path(f"/var/lib/provision/sandbox/hosts/{sandbox_name('gone')}").exists()


def test_failed_up_leaves_nothing_behind(sandbox):
    before = _traces(sandbox_name("bad"))
    done = provision("sandbox", "up", sandbox_name("bad"), "--release", "no-such-release")
    assert done.returncode == 1
    assert "debootstrap" in done.stderr
    assert _traces(sandbox_name("bad")) == before


def test_refuses_without_root(tmp_path_factory):
    done = provision("sandbox", "list", uid=65534)  # nobody
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[0] == (
        "provision: provision sandbox needs root (network namespaces, mounts, systemd-nspawn)")


@pytest.fixture
def routed_range():
    """A range this machine already routes, held by a spare bridge (no traffic is sent)."""
    subprocess.run(["ip", "link", "add", "pvtest0", "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "198.18.77.1/24", "dev", "pvtest0"], check=True)
        subprocess.run(["ip", "link", "set", "pvtest0", "up"], check=True)
        yield "198.18.77.0/24"
    finally:
        subprocess.run(["ip", "link", "del", "pvtest0"], check=True)


def test_refuses_a_range_already_routed(routed_range):
    done = provision("sandbox", "up", sandbox_name("net"), "--network", routed_range)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        f"provision: the sandbox network {routed_range} is already routed on this machine "
        f"({routed_range} via pvtest0)")
    assert "--network" in done.stderr
    assert f"provision-{sandbox_name('net')}" not in _ip("netns", "list")


@pytest.mark.parametrize("name", ["Upper", "1st", "name-longer-than-12", "a_b"])
def test_refuses_bad_names(name):
    done = provision("sandbox", "up", name)
    assert done.returncode == 2
    assert f"sandbox name '{name}' is not valid" in done.stderr


def test_ssh_passes_the_exit_status(sandbox):
    assert provision("sandbox", "ssh", sandbox.name, "--", "exit 3").returncode == 3


def test_unknown_sandbox_is_bad_input():
    done = provision("sandbox", "ssh", "nosuchbox", "--", "true")
    assert done.returncode == 2
    assert "no sandbox named 'nosuchbox'" in done.stderr


assert os.geteuid() == 0, "the sandbox tests run as root (see README)"


def test_a_sandbox_tree_is_closed_to_host_users(sandbox):
    """A file of the sandbox's nobody (uid 65534) is, on the host, a file of the host's nobody: without
    closed directories around the tree, the host's nobody could read it (and any sandbox's DKIM key,
    whose owner's uid is some host account)."""
    secret = "/etc/provision-test-secret"
    sandbox.ssh(f"echo sandbox-only > {secret} && chown 65534:65534 {secret} && chmod 600 {secret}")
    tree = Path(f"/var/lib/provision/sandbox/hosts/{sandbox.name}/root")
    for path in (tree / secret.lstrip("/"), tree / "etc/shadow", image_path("trixie") / "etc/passwd"):
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat",
                               str(path)], capture_output=True, text=True)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (path, done.stdout)
    assert (tree / secret.lstrip("/")).read_text() == "sandbox-only\n"  # root still reads it
    sandbox.ssh(["rm", secret])
