"""provision templates copy and render --overrides: a copied template whose shipped original changes in
a later release is reported with that upstream change, beside the copy's own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

TEMPLATE = "postfix/etc/aliases.j2"


def release(tmp_path: Path) -> Path:
    """A copy of provision to change as a later commit would."""
    copy = tmp_path / "release"
    for part in ("provision", "playbooks", "templates"):
        shutil.copytree(REPO / part, copy / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provision", *args], cwd=where, capture_output=True,
                          text=True, timeout=120)


def test_an_upstream_change_after_the_copy_is_shown(tmp_path):
    provision_copy = release(tmp_path)
    customer = tmp_path / "customer"
    customer.mkdir()
    copied = run(provision_copy, "templates", "copy", str(customer), "postfix/etc/aliases")
    assert copied.returncode == 0, copied.stderr
    override = customer / "templates" / TEMPLATE
    assert override.read_text() == (REPO / "templates" / TEMPLATE).read_text()
    again = run(provision_copy, "templates", "copy", str(customer), TEMPLATE)
    assert again.returncode == 2 and f"{override} exists" in again.stderr

    override.write_text(override.read_text().replace("abuse: root\n", "abuse: security-team\n"))
    current = run(provision_copy, "--json", "render", str(customer), "--overrides")
    assert current.returncode == 0, current.stderr
    [entry] = json.loads(current.stdout)
    assert entry["status"] == "current" and entry["upstream_diff"] == ""
    assert "-abuse: root\n+abuse: security-team\n" in entry["override_diff"]

    shipped = provision_copy / "templates" / TEMPLATE  # the later release's fix
    fixed = shipped.read_text().replace("postmaster: root\n", "postmaster: root\nhostmaster: root\n")
    shipped.write_text(fixed)
    changed = run(provision_copy, "render", str(customer), "--overrides")
    assert changed.returncode == 1, changed.stderr
    assert f"{override}: shipped changed\n" in changed.stdout
    assert f"--- copied/{TEMPLATE}\n+++ shipped/{TEMPLATE}\n" in changed.stdout
    assert " postmaster: root\n+hostmaster: root\n" in changed.stdout
    assert "-abuse: root\n+abuse: security-team\n" in changed.stdout
    assert "1 override(s), 1 to review" in changed.stdout


def test_copy_refuses_what_is_not_shipped(tmp_path):
    done = run(REPO, "templates", "copy", str(tmp_path), "postfix/etc/nothing.cf")
    assert done.returncode == 2
    assert "provision ships no template postfix/etc/nothing.cf" in done.stderr
    assert not (tmp_path / "templates").exists()
    escape = run(REPO, "templates", "copy", str(tmp_path), "../etc/passwd")
    assert escape.returncode == 2 and "is not a template's ROLE/PATH" in escape.stderr
