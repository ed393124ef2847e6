"""Where sandboxes keep their state (per host) and their cache (kept across runs)."""

from pathlib import Path

STATE_DIR = Path("/var/lib/provision/sandbox")
CACHE_DIR = Path("/var/cache/provision")
IMAGES_DIR = CACHE_DIR / "images"
APT_CACHE_DIR = CACHE_DIR / "apt-cacher-ng"
PROXY_DIR = STATE_DIR / "apt-proxy"
NETWORK_FILE = STATE_DIR / "network.json"
LOCK_FILE = STATE_DIR / ".lock"
SSH_CONFIG = STATE_DIR / "ssh_config"
INVENTORY = STATE_DIR / "inventory.yml"


def sandbox_dir(name: str) -> Path:
    return STATE_DIR / "hosts" / name


def private(directory: Path) -> Path:
    """A directory only root may enter. A sandbox's files keep the uids they have inside it, which
    on the host are unrelated accounts (its DKIM key would belong to the host's postgres), and its
    setuid programs would be the host's too: the image cache and the sandboxes' trees are kept
    under such a directory. Cheaper than user namespaces (a chown of the overlay copies every file
    up) and the sandbox keeps the firewall rights in its network namespace."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory
