"""The sandbox network: one bridge on the host, one network namespace per sandbox.

The host side of the bridge holds the network's first address (the sandboxes'
gateway and the apt proxy); sandboxes take addresses from .10 up. No route
leads further: sandboxes reach each other and the host, nothing else.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from provision.errors import ProvisionError, UsageError
from provision.process import run
from provision.sandbox.paths import NETWORK_FILE

DEFAULT_NETWORK = "198.51.100.0/24"
BRIDGE = "provision0"
FIRST_HOST = 10
NETNS_PREFIX = "provision-"


def netns_name(sandbox: str) -> str:
    return f"{NETNS_PREFIX}{sandbox}"


def veth_name(sandbox: str) -> str:
    return f"pv-{sandbox}"  # at most 15 characters: sandbox names are at most 12


@dataclass(frozen=True)
class SandboxNetwork:
    network: IPv4Network

    @classmethod
    def parse(cls, cidr: str) -> SandboxNetwork:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as bad:
            raise UsageError(f"--network {cidr}: {bad}",
                             hint="give an IPv4 network such as 198.51.100.0/24") from bad
        if not isinstance(network, IPv4Network) or network.num_addresses < 16:
            raise UsageError(f"--network {cidr}: need an IPv4 network of /28 or larger")
        return cls(network)

    @classmethod
    def current(cls) -> SandboxNetwork | None:
        """The network the bridge was set up with, while any sandbox runs."""
        if not NETWORK_FILE.exists():
            return None
        return cls(ipaddress.ip_network(json.loads(NETWORK_FILE.read_text())["network"]))

    @property
    def gateway(self) -> IPv4Address:
        return self.network.network_address + 1

    def host_addresses(self):
        return (a for a in self.network.hosts() if int(a) - int(self.network.network_address) >= FIRST_HOST)

    def conflicts(self) -> list[str]:
        """Routes on this machine, other than our bridge's, that cover part of the network.

        One line per device, its widest route: the local table repeats every address.
        """
        widest: dict[str, ipaddress.IPv4Network] = {}
        for route in json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]"):
            dst, dev = route.get("dst", ""), route.get("dev") or route.get("gateway", "?")
            if dst in ("default", "") or dev == BRIDGE:
                continue
            covered = ipaddress.ip_network(dst, strict=False)
            if covered.overlaps(self.network):
                widest[dev] = min(covered, widest.get(dev, covered), key=lambda net: net.prefixlen)
        return [f"{covered} via {dev}" for dev, covered in sorted(widest.items())]

    def ensure_bridge(self) -> None:
        if bridge_exists():
            return
        NETWORK_FILE.parent.mkdir(parents=True, exist_ok=True)
        NETWORK_FILE.write_text(json.dumps({"network": str(self.network)}))
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "addr", "add", f"{self.gateway}/{self.network.prefixlen}", "dev", BRIDGE])
        run(["ip", "link", "set", BRIDGE, "up"])

    def remove_bridge(self) -> None:
        if bridge_exists():
            run(["ip", "link", "del", BRIDGE])
        NETWORK_FILE.unlink(missing_ok=True)

    def attach(self, sandbox: str, address: IPv4Address) -> None:
        """A namespace for the sandbox, joined to the bridge by a veth pair."""
        ns, veth = netns_name(sandbox), veth_name(sandbox)
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "link", "set", veth, "master", BRIDGE, "up"])
        inside = ["ip", "-n", ns]
        run([*inside, "link", "set", "lo", "up"])
        run([*inside, "addr", "add", f"{address}/{self.network.prefixlen}", "dev", "eth0"])
        run([*inside, "link", "set", "eth0", "up"])
        run([*inside, "route", "add", "default", "via", str(self.gateway)])


def detach(sandbox: str) -> None:
    """Remove the sandbox's namespace and link; whatever of them exists."""
    ns, veth = netns_name(sandbox), veth_name(sandbox)
    if ns in list_netns():
        run(["ip", "netns", "del", ns])  # takes the veth pair with it, a moment later
    if _link_exists(veth) and run(["ip", "link", "del", veth], check=False).returncode != 0 \
            and _link_exists(veth):
        raise ProvisionError(f"could not remove the link {veth}", hint=f"try: ip link del {veth}")


def forget_neighbour(address: str) -> None:
    """Drop the host's neighbour (ARP) entry for a freed address.

    The next sandbox gets the same address with a new MAC; a stale entry would have the host send to
    the old MAC until the entry expires, and that sandbox's `up` wait tens of seconds for SSH.
    """
    if bridge_exists():
        run(["ip", "neigh", "flush", "dev", BRIDGE, "to", address])


def list_netns() -> list[str]:
    return [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()]


def bridge_exists() -> bool:
    return _link_exists(BRIDGE)


def _link_exists(name: str) -> bool:
    return run(["ip", "link", "show", name], check=False).returncode == 0
