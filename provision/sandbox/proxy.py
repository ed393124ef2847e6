"""The apt proxy: apt-cacher-ng on the sandbox network's gateway address.

It runs with a config of its own (plain pass-through caching, no backend
remapping), so packages are fetched once and served to every sandbox and to
debootstrap from the cache afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from ipaddress import IPv4Address

from provision.errors import ProvisionError
from provision.process import alive, program
from provision.sandbox.paths import APT_CACHE_DIR, PROXY_DIR

PORT = 3142
_CONF_DIR = PROXY_DIR / "conf"
_PID_FILE = PROXY_DIR / "apt-cacher-ng.pid"


def url(gateway: IPv4Address) -> str:
    return f"http://{gateway}:{PORT}"


def _config(gateway: IPv4Address) -> str:
    return "\n".join([
        "# managed by provision: a plain caching proxy for the sandboxes",
        f"CacheDir: {APT_CACHE_DIR}",
        f"LogDir: {PROXY_DIR / 'log'}",
        f"SocketPath: {PROXY_DIR / 'socket'}",
        f"PidFile: {_PID_FILE}",
        f"BindAddress: {gateway}",
        f"Port: {PORT}",
        "ForeGround: 1",
        "",
    ])


def _running_pid() -> int | None:
    try:
        pid = int(_PID_FILE.read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def ensure(gateway: IPv4Address) -> None:
    if _running_pid():
        return
    for directory in (_CONF_DIR, PROXY_DIR / "log", APT_CACHE_DIR):
        directory.mkdir(parents=True, exist_ok=True)
    (_CONF_DIR / "acng.conf").write_text(_config(gateway))
    log = open(PROXY_DIR / "log" / "stdout.log", "ab")  # noqa: SIM115 - handed to the daemon
    try:
        process = subprocess.Popen(
            [program("apt-cacher-ng"), "-c", str(_CONF_DIR)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    except FileNotFoundError as missing:
        raise ProvisionError("apt-cacher-ng is not installed", hint="run ./install.sh as root") from missing
    finally:
        log.close()
    _PID_FILE.write_text(str(process.pid))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProvisionError(f"apt-cacher-ng exited at start; see {PROXY_DIR / 'log'}")
        try:
            socket.create_connection((str(gateway), PORT), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise ProvisionError(f"apt-cacher-ng did not listen on {gateway}:{PORT} within 10 s")


def stop() -> None:
    pid = _running_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    _PID_FILE.unlink(missing_ok=True)
