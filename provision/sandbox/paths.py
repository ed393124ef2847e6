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
