"""The restore drill: the customer's server rebuilt from an archive on a throw-away sandbox, compared
with the archive's manifest, logged in to as the customer's people do, checked, and reported."""

from __future__ import annotations

import base64
import dataclasses
import html
import http.client
import imaplib
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from provision import remote
from provision.ansible.run import Playbook, run_or_raise
from provision.backup import restore
from provision.console import Console
from provision.errors import ProvisionError
from provision.inventory import HOSTS_FILE, SETTINGS_FILE, vault
from provision.inventory import write as inventory_write
from provision.inventory.load import load
from provision.inventory.model import Host, Inventory, TlsMode
from provision.layout import CERTIFICATE
from provision.sandbox import machine
from provision.sandbox.network import DEFAULT_NETWORK

DRILLS = "backup-drills.json"  # in the customer's inventory: the drills done, for host.backup.drill
ROLE_VARS = "group_vars/all/restore-drill.yml"


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    ok: bool = True
    detail: str = ""


@dataclass
class Drill:
    inventory: str
    archive: str
    started: str
    steps: list[Step] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps) and not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ok": self.ok,
                "seconds": round(sum(step.seconds for step in self.steps), 1)}


def run(source: Inventory, archive: str | None, sandbox: str, console: Console) -> Drill:
    drill = Drill(str(source.directory), archive or "", time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    with tempfile.TemporaryDirectory(prefix="provision-drill-") as scratch:
        box, public_key = None, ""
        try:
            with _step(drill, "boot a fresh sandbox", console):
                box = machine.up(sandbox, release="trixie", hostname=source.settings.hostname,
                                 cidr=DEFAULT_NETWORK, console=console)
            target = _drill_inventory(source, Path(scratch) / "inventory", box.address)
            with _step(drill, "apply the customer's inventory", console):
                run_or_raise(Playbook.for_inventory("site.yml", target, {
                    **target.ansible_vars(), **machine.connection_vars(target)}), console)
            with _step(drill, "let the sandbox read the repository", console):
                public_key = restore.prepare(source, target, force=False, console=console)
                drill.archive = drill.archive or restore.newest(target)
            with _step(drill, f"restore {drill.archive}", console) as step:
                found = restore.load_archive(target, drill.archive, console)
                drill.differences = found["differences"]
                step.ok = not drill.differences
                step.detail = (_summary(found["manifest"]) if step.ok else
                               f"{len(drill.differences)} differences")
            secrets = vault.read(source.directory)
            admin = source.settings.first_admin.email
            password = secrets.get("vault_first_admin_password", "")
            with _step(drill, f"IMAP login as {admin}", console) as step:
                step.detail = _imap(box.address, admin, password)
            with _step(drill, f"CalDAV login as {source.settings.first_admin.uid}", console) as step:
                step.detail = _caldav(box.address, source.settings.first_admin.uid, password)
            with _step(drill, "provision check (services, host)", console) as step:
                step.ok, step.detail = _check(target)
        except (ProvisionError, OSError, imaplib.IMAP4.error, RuntimeError):
            pass  # the step that failed says why in the report; the later ones did not run
        finally:
            if public_key:
                restore.unauthorize(source, public_key, console)
            if box is not None:
                with _step(drill, "remove the sandbox", console):
                    machine.down(box.name, console=console)
    return drill


@contextmanager
def _step(drill: Drill, name: str, console: Console) -> Iterator[Step]:
    console.info(f"drill: {name} ...")
    step = Step(name)
    drill.steps.append(step)
    started = time.monotonic()
    try:
        yield step
    except Exception as error:
        step.ok, step.detail = False, getattr(error, "message", str(error)) or type(error).__name__
        raise
    finally:
        step.seconds = round(time.monotonic() - started, 1)


def _drill_inventory(source: Inventory, directory: Path, address: str) -> Inventory:
    """The customer's inventory with the sandbox as its server: its vault (so the same DKIM keys and
    passwords), its settings and role variables, self-signed TLS (a sandbox gets no ACME certificate)."""
    shutil.copytree(source.directory, directory, ignore=shutil.ignore_patterns(DRILLS))
    settings = dataclasses.replace(
        source.settings, public_ipv4=IPv4Address(address), public_ipv6=None, sandbox=True,
        tls_mode=(TlsMode.SELF_SIGNED if source.settings.tls_mode is TlsMode.ACME
                  else source.settings.tls_mode))
    (directory / HOSTS_FILE).write_text(inventory_write.hosts_text(Host(source.host.name, address)))
    (directory / SETTINGS_FILE).write_text(inventory_write.settings_text(settings))
    # provision.yml's role variables (backup_host, ...), which the settings file no longer carries.
    (directory / ROLE_VARS).write_text(json.dumps(source.role_vars, indent=1) + "\n")
    return load(directory)


def _summary(manifest: dict[str, Any]) -> str:
    mailboxes = manifest.get("mailboxes", {})
    messages = sum(folder["messages"] for folders in mailboxes.values() for folder in folders.values())
    return (f"{len(mailboxes)} mailboxes, {messages} messages, "
            f"{len(manifest.get('collections', {}))} DAV collections, "
            f"{manifest.get('directory', {}).get('data', {}).get('lines', 0)} directory lines: all match")


def _imap(address: str, login: str, password: str) -> str:
    with imaplib.IMAP4_SSL(address, 993, ssl_context=ssl._create_unverified_context(), timeout=30) as client:
        client.login(login, password)
        _, data = client.select("INBOX", readonly=True)
    return f"logged in; INBOX holds {data[0].decode()} messages"


def _caldav(address: str, uid: str, password: str) -> str:
    connection = http.client.HTTPSConnection(address, 443, timeout=30,
                                             context=ssl._create_unverified_context())
    credentials = base64.b64encode(f"{uid}:{password}".encode()).decode()
    try:
        connection.request("PROPFIND", f"/{uid}/",
                           headers={"Depth": "1", "Authorization": f"Basic {credentials}"})
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        connection.close()
    if response.status != 207:
        raise RuntimeError(f"PROPFIND /{uid}/ answered {response.status}")
    return f"logged in; {body.count('<D:response>') or body.count(':response>') // 2} entries under /{uid}/"


def _check(target: Inventory) -> tuple[bool, str]:
    """provision check of the rebuilt server, trusting its own (self-signed) certificate; its backups
    and pending updates are the drill sandbox's, not the customer's, and are left out."""
    with remote.connect(remote.login_of(target)) as connection:
        certificate = connection.run(["cat", CERTIFICATE]).stdout
    ca_file = target.directory / "drill-ca.pem"
    ca_file.write_bytes(certificate)
    done = subprocess.run([sys.executable, "-m", "provision", "--json", "check", str(target.directory),
                           "--only", "services,host", "--skip", "host.backup,host.updates.security",
                           "--ca-file", str(ca_file)], capture_output=True, text=True, timeout=900,
                          check=False)
    try:
        checks = [check for report in json.loads(done.stdout)["targets"] for check in report["checks"]]
    except (ValueError, KeyError, TypeError):
        return False, (done.stderr.strip().splitlines() or ["provision check failed"])[-1]
    bad = [f"{check['id']} {check['status']}" for check in checks if check["status"] != "OK"]
    return done.returncode == 0, (f"{len(checks)} checks OK" if not bad else
                                  f"{len(checks) - len(bad)} of {len(checks)} OK; not OK: {', '.join(bad)}")


def record(source: Inventory, drill: Drill) -> None:
    """The drill, appended to the inventory's record of drills."""
    path = source.directory / DRILLS
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        done = []
    done.append({"finished": time.time(), **drill.as_dict()})
    path.write_text(json.dumps(done, indent=1) + "\n")


def last_success(directory: Path) -> float | None:
    """When the last successful drill of this inventory finished (seconds since the epoch)."""
    try:
        done = json.loads((directory / DRILLS).read_text())
    except (OSError, ValueError):
        return None
    times = [entry.get("finished", 0) for entry in done if isinstance(entry, dict) and entry.get("ok")]
    return max(times) if times else None


def markdown(drill: Drill) -> str:
    lines = [f"# Restore drill of {drill.inventory}", "",
             f"Archive **{drill.archive}**, started {drill.started}: "
             f"**{'PASSED' if drill.ok else 'FAILED'}** in {drill.as_dict()['seconds']} s.", "",
             "| step | result | seconds | detail |", "|---|---|---|---|"]
    lines += [f"| {step.name} | {'ok' if step.ok else 'FAILED'} | {step.seconds} | {step.detail} |"
              for step in drill.steps]
    if drill.differences:
        lines += ["", "Differences from the archive's manifest:", ""]
        lines += [f"- {line}" for line in drill.differences]
    return "\n".join(lines) + "\n"


def html_page(drill: Drill) -> str:
    rows = "".join(f"<tr><td>{html.escape(step.name)}</td><td>{'ok' if step.ok else 'FAILED'}</td>"
                   f"<td>{step.seconds}</td><td>{html.escape(step.detail)}</td></tr>" for step in drill.steps)
    differences = "".join(f"<li>{html.escape(line)}</li>" for line in drill.differences)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Restore drill</title></head><body>"
            f"<h1>Restore drill of {html.escape(drill.inventory)}</h1>"
            f"<p>Archive <b>{html.escape(drill.archive)}</b>, started {html.escape(drill.started)}: "
            f"<b>{'PASSED' if drill.ok else 'FAILED'}</b> in {drill.as_dict()['seconds']} s.</p>"
            "<table border='1'><tr><th>step</th><th>result</th><th>seconds</th><th>detail</th></tr>"
            f"{rows}</table>"
            + (f"<p>Differences from the archive's manifest:</p><ul>{differences}</ul>"
               if differences else "")
            + "</body></html>\n")


REPORTS: dict[str, Callable[[Drill], str]] = {".md": markdown, ".html": html_page}
