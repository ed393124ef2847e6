"""host.drift: config files on the server that differ from what `provision apply` would write there.

`provision render` (the render machinery; secrets as <vault_NAME> placeholders, what only the host
knows as <host_NAME>) writes the inventory's files locally; the server's copies are fetched over the
target's SSH connection and compared, a placeholder matching any text within its line. Files apply
writes only in some setups (ACME's files, a smarthost's password map) or never writes as such (the
directory's LDIF, fed to ldapmodify) are compared only where the server has them.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from provision.ansible.placeholders import PLACEHOLDER
from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.host.ssh import Server, Unreachable
from provision.check.model import Check, Status

DRIFT = "host.drift"
FETCH_SECONDS = 8.0  # of the module's time limit, kept for fetching and comparing after the render


@dataclass(frozen=True)
class Rendered:
    role: str
    path: PurePosixPath  # where apply writes it on the server
    text: str


def run(context: Context, domain: str) -> list[Check]:
    gathered = facts.gather(context, DRIFT)
    if isinstance(gathered, list):
        return gathered
    server = gathered.server
    try:
        files = render(server, context.options.check_timeout - FETCH_SECONDS)
        found = fetch(gathered.session, [file.path for file in files])
    except (RenderError, Unreachable) as error:
        return [result(DRIFT, Status.UNKNOWN, str(error))]
    differing = [file for file in files if file.path in found and not matches(file.text, found[file.path])]
    if not differing:
        return [result(DRIFT, Status.OK, f"{len(found)} config file(s) as provision apply writes them")]
    directory = server.inventory.directory
    return [result(DRIFT, Status.WARN,
                   "changed since provision apply: " + ", ".join(str(file.path) for file in differing),
                   f"run provision apply {directory} to undo the change, or keep it by moving it into "
                   + ", ".join(f"{directory}/templates/{file.role}{file.path}.j2" for file in differing))]


class RenderError(Exception):
    pass


def render(server: Server, timeout: float) -> list[Rendered]:
    """What apply would write, rendered by `provision render` in a child process of its own."""
    inventory = server.inventory
    with tempfile.TemporaryDirectory(prefix="provision-drift-") as temporary:
        out = Path(temporary) / "out"
        try:
            done = subprocess.run([sys.executable, "-m", "provision", "--json", "render",
                                   str(inventory.directory), str(out)],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RenderError(f"rendering the config files took over {timeout:g} s: give a longer --timeout "
                              "(a check module may take 12 times it, at least 60 s)") from None
        if done.returncode != 0:
            raise RenderError(f"provision render {inventory.directory} failed: {done.stderr.strip()[-300:]}")
        host = out / inventory.host.name
        return [Rendered(file.relative_to(host).parts[0],
                         PurePosixPath("/", *file.relative_to(host).parts[1:]), file.read_text())
                for file in sorted(host.rglob("*")) if file.is_file()]


def fetch(session: facts.Session, paths: list[PurePosixPath]) -> dict[PurePosixPath, str]:
    """The server's copies of paths, those it has: one script, each file base64-encoded in a section."""
    script = "".join(f'f={shlex.quote(str(path))}; [ -f "$f" ] && {{ echo "### $f"; base64 -w 0 "$f"; echo; '
                     'echo "### exit $?"; }\n' for path in paths)
    found: dict[PurePosixPath, str] = {}
    for name, section in facts.parse_sections(session.run(script)).items():
        try:
            content = base64.b64decode(section.text, validate=True)
        except binascii.Error:
            raise Unreachable(f"{name} came back garbled", "run the check again") from None
        found[PurePosixPath(name)] = content.decode(errors="replace")
    return found


def matches(rendered: str, actual: str) -> bool:
    """actual is rendered, each <vault_NAME> or <host_NAME> placeholder standing for any text in its line."""
    parts = PLACEHOLDER.split(rendered)
    if len(parts) == 1:
        return rendered == actual
    return re.fullmatch("[^\n]*".join(re.escape(part) for part in parts), actual) is not None


MODULE = CheckModule(DRIFT, (DRIFT,), run, per_domain=False)
