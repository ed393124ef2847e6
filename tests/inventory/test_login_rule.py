"""One login rule: the programs provision puts on the server check logins as the package does."""

from __future__ import annotations

import re
from pathlib import Path

from provision.inventory.values import LOGIN_PATTERN

REPO = Path(__file__).resolve().parents[2]
# A login-like character class: "[a-z]" then "[a-z0-9" and more, with its repetition bound.
LOGIN_LIKE = re.compile(r"\[a-z\]\[a-z0-9[^\]]*\]\{\d+,\d+\}")


def test_server_programs_use_the_package_login_rule():
    found = {}
    for tree in ("templates", "playbooks"):
        for path in (REPO / tree).rglob("*"):
            if path.is_file() and not path.is_symlink():
                for rule in LOGIN_LIKE.findall(path.read_text(errors="replace")):
                    found.setdefault(rule, []).append(str(path.relative_to(REPO)))
    assert found, "no server program checks logins: has the rule moved out of templates/ and playbooks/?"
    assert set(found) == {LOGIN_PATTERN}, found
