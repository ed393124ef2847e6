"""A sandbox: a Debian system booted with systemd-nspawn in its own network namespace.

Its root is an overlay on the cached image, so the image stays untouched and
`down` only has to throw the upper layer away.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address
from pathlib import Path

from provision.console import Console
from provision.errors import ProvisionError, UsageError
from provision.inventory.model import Inventory
from provision.process import alive, program, run
from provision.sandbox import access, network, proxy
from provision.sandbox.image import ensure_image
from provision.sandbox.paths import LOCK_FILE, STATE_DIR, private, sandbox_dir

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
BOOT_TIMEOUT = 90


@dataclass
class Sandbox:
    name: str
    address: str
    hostname: str
    release: str
    pid: int = 0

    @property
    def directory(self) -> Path:
        return sandbox_dir(self.name)

    @property
    def root(self) -> Path:
        return self.directory / "root"

    @property
    def state(self) -> str:
        return "running" if _is_nspawn(self.pid, self.name) else "stopped"

    def save(self) -> None:
        (self.directory / "sandbox.json").write_text(json.dumps(asdict(self), indent=2))

    def as_dict(self) -> dict:
        return {"name": self.name, "address": self.address, "hostname": self.hostname,
                "release": self.release, "state": self.state}


def require_root() -> None:
    if os.geteuid() != 0:
        raise UsageError("provision sandbox needs root (network namespaces, mounts, systemd-nspawn)",
                         hint="run it again as root")


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise UsageError(f"sandbox name {name!r} is not valid",
                         hint="use 1-12 characters: a-z, 0-9 and '-', starting with a letter")


def load(name: str) -> Sandbox:
    state = sandbox_dir(name) / "sandbox.json"
    if not state.exists():
        raise UsageError(f"no sandbox named {name!r}", hint="`provision sandbox list` shows the sandboxes")
    return Sandbox(**json.loads(state.read_text()))


def all_sandboxes() -> list[Sandbox]:
    hosts = STATE_DIR / "hosts"
    names = sorted(p.name for p in hosts.iterdir() if (p / "sandbox.json").exists()) if hosts.exists() else []
    return [load(name) for name in names]


def at(address: str) -> Sandbox | None:
    """The sandbox at this address, if there is one (and this user may see the sandboxes)."""
    try:
        boxes = [box for box in all_sandboxes() if box.address == address]
    except OSError:
        return None
    return boxes[0] if boxes else None


def of_inventory(inventory: Inventory) -> Sandbox | None:
    """The sandbox a `provision_sandbox: true` inventory's server runs in, if there is one."""
    return at(inventory.host.address) if inventory.settings.sandbox else None


def connection_vars(inventory: Inventory) -> dict[str, str]:
    """How Ansible reaches the inventory's server: a sandbox's with its own key and known host key;
    nothing to add for any other server."""
    box = of_inventory(inventory)
    return access.ansible_connection_vars(box) if box else {}


def connection_vars_at(address: str) -> dict[str, str]:
    """The same for a host known only by its address (a backup host)."""
    box = at(address)
    return access.ansible_connection_vars(box) if box else {}


@contextmanager
def locked() -> Iterator[None]:
    """Serialise changes to the sandbox network and state between concurrent runs."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(name: str, *, release: str, hostname: str | None, cidr: str, console: Console,
       renew: bool = False) -> Sandbox:
    """Boot a new sandbox; one that already runs as asked is left as it is.

    With renew, one of that name that is stopped, half made or made otherwise is taken down first
    instead of refused (the demo: a throw-away server that a second `apply` must be able to redo).
    """
    require_root()
    check_name(name)
    hostname = hostname or f"{name}.example.test"
    with locked():
        if renew and not _running_as(name, hostname, release):
            _teardown(name)
        if (sandbox_dir(name) / "sandbox.json").exists():
            box = load(name)
            if _running_as(name, hostname, release):
                console.info(f"{name} is already up")
                return box
            raise UsageError(f"sandbox {name!r} exists already ({box.state}, {box.hostname}, {box.release})",
                             hint=f"`provision sandbox down {name}` first")
        if sandbox_dir(name).exists() or network.netns_name(name) in network.list_netns():
            raise UsageError(f"a sandbox {name!r} was left half made by an interrupted run",
                             hint=f"`provision sandbox down {name}` clears it")
        net = _network(cidr)
        try:
            net.ensure_bridge()
            proxy.ensure(net.gateway)
            image = ensure_image(release, proxy.url(net.gateway), console)
            address = _free_address(net)
            box = Sandbox(name=name, address=str(address), hostname=hostname, release=release)
            private(box.directory.parent)
            box.directory.mkdir()
            box.save()
            _mount_overlay(image, box)
            _personalise(box, proxy.url(net.gateway))
            net.attach(name, address)
            console.info(f"booting {name} ({hostname}) at {address}")
            nspawn = _boot(box)
            box.pid = nspawn.pid
            box.save()
            access.write_host_files(box)
            _wait_until_booted(box, nspawn, console)
            access.write_shared_files(all_sandboxes())
        except BaseException:
            _teardown(name)
            _release_network_if_unused()
            raise
    return box


def _running_as(name: str, hostname: str, release: str) -> bool:
    if not (sandbox_dir(name) / "sandbox.json").exists():
        return False
    box = load(name)
    return box.state == "running" and (box.hostname, box.release) == (hostname, release)


def down(name: str, console: Console) -> None:
    require_root()
    with locked():
        if not sandbox_dir(name).exists() and network.netns_name(name) not in network.list_netns():
            load(name)  # says there is no such sandbox
        console.info(f"stopping {name}")
        _teardown(name)
        access.write_shared_files(all_sandboxes())
        _release_network_if_unused()


def down_all(console: Console) -> list[str]:
    """Every sandbox, and whatever a crashed run may have left of one."""
    require_root()
    with locked():
        names = [box.name for box in all_sandboxes()]
        leftovers = [ns.removeprefix(network.NETNS_PREFIX) for ns in network.list_netns()
                     if ns.startswith(network.NETNS_PREFIX)]
        for name in sorted(set(names) | set(leftovers)):
            console.info(f"stopping {name}")
            _teardown(name)
        access.write_shared_files([])
        _release_network_if_unused()
    return names


def _network(cidr: str) -> network.SandboxNetwork:
    wanted = network.SandboxNetwork.parse(cidr)
    current = network.SandboxNetwork.current()
    if current == wanted and network.bridge_exists():
        return wanted
    taken = wanted.conflicts()
    if taken:
        raise UsageError(
            f"the sandbox network {wanted.network} is already routed on this machine ({', '.join(taken)})",
            hint="choose a free range with --network, e.g. --network 198.18.0.0/24",
        )
    if current and all_sandboxes():
        raise UsageError(f"the sandboxes already run on {current.network}, not {wanted.network}",
                         hint="take all sandboxes down to change the network")
    _release_network_if_unused()  # a bridge left on another range by a crashed run
    return wanted


def _free_address(net: network.SandboxNetwork) -> IPv4Address:
    taken = {box.address for box in all_sandboxes()}
    for address in net.host_addresses():
        if str(address) not in taken:
            return address
    raise ProvisionError(f"no free address left in {net.network}")


def _mount_overlay(image: Path, box: Sandbox) -> None:
    for part in ("upper", "work", "root"):
        (box.directory / part).mkdir()
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={image},upperdir={box.directory / 'upper'},workdir={box.directory / 'work'}",
         str(box.root)])


def _personalise(box: Sandbox, proxy_url: str) -> None:
    """Give the sandbox its own identity: names, machine id, SSH keys, apt proxy."""
    root, short = box.root, box.hostname.split(".")[0]
    (root / "etc/hostname").write_text(f"{short}\n")
    (root / "etc/hosts").write_text(
        f"127.0.0.1\tlocalhost\n{box.address}\t{box.hostname} {short}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    (root / "etc/machine-id").write_text(os.urandom(16).hex() + "\n")
    (root / "etc/apt/apt.conf.d/00provision-proxy").write_text(
        f'// managed by provision: packages come through the sandbox network\'s apt proxy\n'
        f'Acquire::http::Proxy "{proxy_url}";\n'
    )
    access.install_keys(box.directory, root)


def _boot(box: Sandbox) -> subprocess.Popen[bytes]:
    log = open(box.directory / "console.log", "wb")  # noqa: SIM115 - handed to nspawn
    try:
        process = subprocess.Popen(
            [program("systemd-nspawn"), "--boot", f"--directory={box.root}", f"--machine={box.name}",
             f"--hostname={box.hostname.split('.')[0]}", "--register=no", "--keep-unit",
             f"--network-namespace-path=/run/netns/{network.netns_name(box.name)}",
             "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=passive",
             # Its own network namespace: it may run a firewall there, as a real server does.
             "--capability=CAP_NET_ADMIN"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    except FileNotFoundError as missing:
        raise ProvisionError("systemd-nspawn is not installed", hint="run ./install.sh as root") from missing
    finally:
        log.close()
    return process


def _wait_until_booted(box: Sandbox, nspawn: subprocess.Popen[bytes], console: Console) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not _port_open(box.address, 22):
        if nspawn.poll() is not None:
            # The sandbox's files go with the failed up: say what nspawn said now.
            said = (box.directory / "console.log").read_text(errors="replace").strip().splitlines()
            raise ProvisionError(f"sandbox {box.name} stopped while booting (systemd-nspawn exit status "
                                 f"{nspawn.returncode}): " + " / ".join(said[-3:] or ["it said nothing"]))
        if time.monotonic() > deadline:
            raise ProvisionError(f"sandbox {box.name} did not open SSH within {BOOT_TIMEOUT} s")
        time.sleep(0.1)
    left = max(5.0, deadline - time.monotonic())
    state = access.ssh(box, ["systemctl", "is-system-running", "--wait"], timeout=left,
                       check=False).stdout.strip()
    if state == "degraded":
        failed = access.ssh(box, ["systemctl", "--failed", "--plain", "--no-legend"], timeout=10)
        units = [line.split()[0] for line in failed.stdout.splitlines() if line.strip()]
        console.warn(f"sandbox {box.name} is degraded; failed units: {', '.join(units)}")
    elif state != "running":
        raise ProvisionError(f"sandbox {box.name} did not finish booting (systemd says {state or 'nothing'})")


def _port_open(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _teardown(name: str) -> None:
    """End whatever exists of the sandbox: processes, mount, namespace, link, files."""
    directory = sandbox_dir(name)
    state = directory / "sandbox.json"
    saved = json.loads(state.read_text()) if state.exists() else {}
    pid = saved.get("pid", 0)
    if _is_nspawn(pid, name):
        _stop_process(pid)
    root = directory / "root"
    if os.path.ismount(root) and run(["umount", str(root)], check=False).returncode != 0:
        run(["umount", "--lazy", str(root)])  # something still holds it: detach it anyway
    network.detach(name)
    if saved.get("address"):
        network.forget_neighbour(saved["address"])
    shutil.rmtree(directory, ignore_errors=True)


def _stop_process(pid: int) -> None:
    """SIGTERM makes nspawn power the container off cleanly; SIGKILL if it takes too long."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)


def _release_network_if_unused() -> None:
    if all_sandboxes():
        return
    proxy.stop()
    current = network.SandboxNetwork.current()
    if current:
        current.remove_bridge()


def _is_nspawn(pid: int, name: str) -> bool:
    if not pid or not alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return argv[0].endswith(b"systemd-nspawn") and f"--machine={name}".encode() in argv
