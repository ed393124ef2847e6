"""Sandboxes taken down and brought up again on the same address, as a test run or a bench does."""

from __future__ import annotations

import json
import subprocess
import time

from tests.conftest import SandboxHost, provision, sandbox_name, stop_sandbox


def _neighbour(address: str) -> list[dict]:
    done = subprocess.run(["ip", "-j", "neigh", "show", "dev", "provision0", "to", address],
                          capture_output=True, text=True)
    return json.loads(done.stdout or "[]") if done.returncode == 0 else []


def test_five_up_down_cycles_each_ssh_ready_within_15_s(sandbox):
    """The shared sandbox keeps the bridge, and so the host's neighbour entries, up meanwhile."""
    name = sandbox_name("cycle")
    seconds, addresses = [], []
    try:
        provision("sandbox", "down", name)  # of an interrupted run
        for _ in range(5):
            start = time.monotonic()
            done = provision("--json", "sandbox", "up", name)  # returns once SSH answers and systemd runs
            seconds.append(time.monotonic() - start)
            assert done.returncode == 0, done.stderr
            info = json.loads(done.stdout)
            box = SandboxHost(info["name"], info["address"], info["hostname"])
            assert box.ssh("true").returncode == 0
            addresses.append(box.address)
            stop_sandbox(name)
            # The next sandbox at this address has a new MAC: no stale entry may send it to the old one.
            assert _neighbour(box.address) == [], f"down left the neighbour entry of {box.address}"
    finally:
        provision("sandbox", "down", name)
    assert max(seconds) < 15, f"up to SSH-ready took {[round(s, 1) for s in seconds]} s at {addresses}"
