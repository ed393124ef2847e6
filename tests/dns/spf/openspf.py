"""The OpenSPF RFC 7208 test suite (rfc7208-tests.yml): its cases and its zone data as zones.

`./install.sh --tests` unpacks the suite and its licence from pyspf's source distribution on PyPI
into SUITE_CACHE; shared/data beside the repository is read only when the cache is missing.

Zone data conventions (as the suite's own drivers read them): an SPF entry is served as an SPF
(type 99) record and, unless the name lists TXT entries of its own, also as TXT; "TXT: NONE" means
no TXT at all; the bare string TIMEOUT means queries at that name time out.

Knot answers by name, not by type, so a TIMEOUT name becomes a zone that never answers unless it
also owns records that would be served as TXT or another type a verifier asks for (only
spftimeout.example.net: its TXT is answered, and only its type 99 query, which RFC 7208 verifiers
never make, answers NODATA instead of timing out).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.dnsserver import owner, txt

REPOSITORY = Path(__file__).resolve().parents[3]
SUITE_NAME = "rfc7208-tests.yml"
SUITE_CACHE = Path("/var/cache/provision/rfc7208")  # written by install.sh --tests


def suite_path() -> Path:
    """The suite: install.sh's cache, else $PROVISION_SHARED_DIR/data or shared/data beside the checkout."""
    if (SUITE_CACHE / SUITE_NAME).is_file():
        return SUITE_CACHE / SUITE_NAME
    shared = os.environ.get("PROVISION_SHARED_DIR")
    return (Path(shared) if shared else REPOSITORY.parent / "shared") / "data" / SUITE_NAME


@dataclass(frozen=True)
class Case:
    """One test of the suite."""

    scenario: Scenario
    name: str
    host: str
    mailfrom: str
    helo: str
    results: tuple[str, ...]  # any of these is acceptable
    explanation: str | None  # "DEFAULT" stands for "no exp= text"

    @property
    def id(self) -> str:
        return f"{self.scenario.slug}/{self.name}"


@dataclass(frozen=True, eq=False)
class Scenario:
    """One YAML document: zone data and the tests run against it."""

    description: str
    zonedata: dict[str, list[object]]

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.description.lower()).strip("-")


def load_suite(path: Path) -> list[Case]:
    """Every test of the suite, scenario by scenario, in file order."""
    cases = []
    with path.open("rb") as stream:  # bytes: the YAML holds deliberate non-ASCII escapes
        for document in yaml.safe_load_all(stream):
            scenario = Scenario(document["description"], document["zonedata"])
            for name, test in document["tests"].items():
                result = test["result"]
                cases.append(
                    Case(
                        scenario,
                        name,
                        str(test["host"]),
                        test["mailfrom"],
                        test["helo"],
                        tuple(result) if isinstance(result, list) else (result,),
                        test.get("explanation"),
                    )
                )
    return cases


def zones(zonedata: dict[str, list[object]]) -> tuple[dict[str, list[str]], set[str]]:
    """The zones that serve zonedata: (apex -> zone-file lines, apexes that never answer).

    Everything lives in the root zone, except TIMEOUT names, which get zones of their own that
    never answer, and names below those, which get zones of their own so they still answer.
    """
    records = {name.lower(): _records(name, entries) for name, entries in zonedata.items()}
    silent = {
        name.lower()
        for name, entries in zonedata.items()
        if "TIMEOUT" in entries and all(line.split()[2] == "SPF" for line in records[name.lower()])
    }
    apexes = {"."} | silent
    for name in sorted(records, key=lambda name: name.count(".")):
        if _closest_apex(name, apexes) in silent and name not in silent:
            apexes.add(name)
    served: dict[str, list[str]] = {apex: [] for apex in apexes}
    for name, lines in records.items():
        if name not in silent:
            served[_closest_apex(name, apexes)] += lines
    return served, silent


def _records(name: str, entries: list[object]) -> list[str]:
    """Zone-file lines for one name's entries (owner, TTL, type, rdata)."""
    lines: list[tuple[str, str]] = []
    own_txt = any(isinstance(entry, dict) and "TXT" in entry for entry in entries)
    for entry in entries:
        if not isinstance(entry, dict):
            continue  # TIMEOUT
        ((rdtype, value),) = entry.items()
        if rdtype in ("TXT", "SPF"):
            if value == "NONE":
                continue
            strings = value if isinstance(value, list) else [value]
            lines.append((rdtype, txt(strings)))
            if rdtype == "SPF" and not own_txt:
                lines.append(("TXT", txt(strings)))
        elif rdtype == "MX":
            preference, host = value
            lines.append(("MX", f"{preference} {owner(host)}"))
        elif rdtype in ("PTR", "CNAME"):
            lines.append((rdtype, owner(value)))
        else:
            lines.append((rdtype, str(value)))
    return [f"{owner(name)} 300 {rdtype} {rdata}" for rdtype, rdata in lines]


def _closest_apex(name: str, apexes: set[str]) -> str:
    labels = name.split(".")
    for start in range(len(labels)):
        if ".".join(labels[start:]) in apexes:
            return ".".join(labels[start:])
    return "."
