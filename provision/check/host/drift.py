"""host.drift: config files on the server that differ from what `provision apply` would write there.

`provision render` (the render machinery; secrets as <vault_NAME> placeholders, what only the host
knows as <host_NAME>) gives the inventory's files (rendering, cached); the server's copies are fetched
over the target's SSH connection in one script and compared, a placeholder matching any text within
its line; the roles' programs (which render copies as they are) are compared too. Files apply writes
only in some setups (ACME's files, a smarthost's password map) or never writes as such (the directory's
LDIF, fed to ldapmodify) are compared only where the server has them.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
import time
from pathlib import PurePosixPath

from provision import remote
from provision.ansible import PLAYBOOKS
from provision.ansible.placeholders import PLACEHOLDER
from provision.check.context import CheckModule, Context
from provision.check.host import facts, result
from provision.check.host.rendering import Render, RenderError
from provision.check.host.ssh import server_of
from provision.check.model import Check, Status

DRIFT = "host.drift"
FETCH_SECONDS = 8.0  # of the module's time limit, kept for fetching and comparing after the render


def run(context: Context, domain: str) -> list[Check]:
    started = time.monotonic()
    server = server_of(context.target)
    if server is None:
        return []
    # Rendering needs no connection: it runs while the facts are gathered, and stops if they cannot be.
    rendering = Render(server.inventory.directory, server.inventory.host.name)
    try:
        gathered = facts.gather(context, DRIFT)
        if isinstance(gathered, list):
            return gathered
        left = context.options.check_timeout - FETCH_SECONDS - (time.monotonic() - started)
        files = rendering.files(max(left, 1.0))
        found = fetch(gathered.session, [file.path for file in files])
    except (RenderError, remote.Unreachable) as error:
        return [result(DRIFT, Status.UNKNOWN, str(error))]
    finally:
        rendering.cancel()
    differing = [file for file in files if file.path in found and not matches(file.text, found[file.path])]
    if not differing:
        return [result(DRIFT, Status.OK, f"{len(found)} config file(s) as provision apply writes them")]
    directory = server.inventory.directory
    # A role's programs (files/) are installed as they are: only templates can be overridden.
    templates = [file for file in differing if not (PLAYBOOKS / "roles" / file.role / "files"
                                                    / file.path.relative_to("/")).is_file()]
    fix = f"run provision apply {directory} to undo the change"
    if templates:
        fix += ", or keep it by moving it into " + ", ".join(
            f"{directory}/templates/{file.role}{file.path}.j2" for file in templates)
    return [result(DRIFT, Status.WARN,
                   "changed since provision apply: " + ", ".join(str(file.path) for file in differing), fix)]


def fetch(session: facts.Session, paths: list[PurePosixPath]) -> dict[PurePosixPath, str]:
    """The server's copies of paths, those it has: one script, each file base64-encoded in a section."""
    script = "".join(f'f={shlex.quote(str(path))}; [ -f "$f" ] && {{ echo "### $f"; base64 -w 0 "$f"; echo; '
                     'echo "### exit $?"; }\n' for path in paths)
    found: dict[PurePosixPath, str] = {}
    for name, section in facts.parse_sections(session.run(script)).items():
        try:
            content = base64.b64decode(section.text, validate=True)
        except binascii.Error:
            raise remote.Unreachable(f"{name} came back garbled", "run the check again") from None
        found[PurePosixPath(name)] = content.decode(errors="replace")
    return found


def matches(rendered: str, actual: str) -> bool:
    """actual is rendered, each <vault_NAME> or <host_NAME> placeholder standing for any text in its line."""
    parts = PLACEHOLDER.split(rendered)
    if len(parts) == 1:
        return rendered == actual
    return re.fullmatch("[^\n]*".join(re.escape(part) for part in parts), actual) is not None


MODULE = CheckModule(DRIFT, (DRIFT,), run, per_domain=False)
