"""Whole-template overrides: a consultant's or customer's copy of a shipped template, in DIR/templates/.

`provision templates copy` records the shipped text it copied (DIR/templates/.origins/ROLE/PATH) and its
SHA-256 (DIR/templates/.copied-from.yml), so that after a provision upgrade `provision render
--overrides` can show what changed upstream since the copy, beside what the copy itself changed.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from provision import __version__, files
from provision.ansible import TEMPLATES
from provision.errors import UsageError

OVERRIDES = Path("templates")
ORIGINS = Path(".origins")
RECORD = Path(".copied-from.yml")


@dataclass(frozen=True)
class Override:
    template: str  # ROLE/PATH, as under provision's templates/
    path: Path  # the override itself
    status: str  # current | shipped changed | not recorded | nothing shipped
    upstream: str  # diff of the shipped template since the copy was made
    local: str  # diff of the override against what it was copied from (or today's shipped)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def shipped(template: str) -> Path:
    """The shipped template ROLE/PATH (the .j2 may be left out); refused if there is none."""
    relative = PurePosixPath(template)
    if relative.is_absolute() or ".." in relative.parts or len(relative.parts) < 2:
        raise UsageError(f"{template} is not a template's ROLE/PATH",
                         hint="e.g. postfix/etc/postfix/main.cf.j2, as under provision's templates/")
    for candidate in (TEMPLATES / relative, TEMPLATES / f"{relative}.j2"):
        if candidate.is_file():
            return candidate
    raise UsageError(f"provision ships no template {template}",
                     hint=f"see the templates under {TEMPLATES}")


def copy(directory: Path, template: str) -> Path:
    """directory/templates/ROLE/PATH made from the shipped template, its origin recorded."""
    source = shipped(template)
    relative = source.relative_to(TEMPLATES)
    target = directory / OVERRIDES / relative
    if target.exists():
        raise UsageError(f"{target} exists", hint="edit it, or remove it to copy the shipped one anew")
    text = source.read_text()
    record = _record(directory)
    record[str(relative)] = {"sha256": sha256(text), "provision": __version__}
    for path, content in ((target, text), (directory / OVERRIDES / ORIGINS / relative, text),
                          (directory / OVERRIDES / RECORD, yaml.safe_dump(record, sort_keys=True))):
        path.parent.mkdir(parents=True, exist_ok=True)
        files.not_a_link(path).write_text(content)
    return target


def report(directory: Path) -> list[Override]:
    """Every override in directory/templates/, compared with what it was copied from and today's."""
    root = directory / OVERRIDES
    if not root.is_dir():
        return []
    found, problems = files.walk(root)
    if problems:
        raise UsageError(f"{root}: {problems[0]}", hint="keep plain files in the templates directory")
    record = _record(directory)
    return [_compare(root, str(relative), record.get(str(relative)))
            for relative in found if relative.parts[0] not in (str(ORIGINS), str(RECORD))]


def _compare(root: Path, template: str, recorded: dict[str, str] | None) -> Override:
    path = root / template
    own = files.read_text(path)
    today = TEMPLATES / template
    if not today.is_file():
        return Override(template, path, "nothing shipped", "", "")
    current = today.read_text()
    origin = root / ORIGINS / template
    original = files.read_text(origin) if recorded and origin.is_file() else None
    copied, today_name = f"copied/{template}", f"shipped/{template}"
    if original is None or sha256(original) != recorded.get("sha256"):
        return Override(template, path, "not recorded", "", _diff(current, own, today_name, str(path)))
    status = "current" if original == current else "shipped changed"
    return Override(template, path, status, _diff(original, current, copied, today_name),
                    _diff(original, own, copied, str(path)))


def _diff(before: str, after: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=old, tofile=new))


def _record(directory: Path) -> dict[str, dict[str, str]]:
    path = directory / OVERRIDES / RECORD
    if not path.is_file():
        return {}
    data = yaml.safe_load(files.read_text(path))
    return data if isinstance(data, dict) else {}
