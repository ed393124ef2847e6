"""provision_radicale_storage's reads and writes on a storage laid out like Radicale's
(STORAGE/collection-root/USER/COLLECTION/ with .Radicale.props beside the items), in a
temporary directory; Radicale's config is the role's, rendered with its defaults. The run
on a server is tests/migrate/test_dav.py's.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.programs import defaults, load, render_template

program = load("radicale", "usr/local/lib/provision/provision_radicale_storage.py")

EVENT = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:caf\xc3\xa9\r\n"
         b"END:VEVENT\r\nEND:VCALENDAR\r\n")
TASKS = {"D:displayname": "Tasks", "tag": "VCALENDAR", "C:supported-calendar-component-set": "VTODO"}


@dataclass
class Storage:
    """The program run as `provision migrate` runs it, on a storage at path."""

    path: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def run(self, action: str, user: str, stdin: str = "") -> str:
        self.monkeypatch.setattr("sys.argv", ["provision_radicale_storage.py", action, str(self.path), user])
        self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        program.main()
        return self.capsys.readouterr().out

    def write(self, user: str, name: str, props: dict, items: dict[str, bytes]) -> str:
        encoded = {href: base64.b64encode(data).decode() for href, data in items.items()}
        return self.run("write", user, json.dumps({"name": name, "props": props, "items": encoded}))

    def read(self, user: str) -> dict[str, dict]:
        """USER's collections by name, each with its props and its items decoded."""
        return {found["name"]: {"props": found["props"], "items": {
                    href: base64.b64decode(data) for href, data in found["items"].items()}}
                for found in json.loads(self.run("read", user))}


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Storage:
    config = tmp_path / "radicale-config"
    variables = defaults("radicale", provision_domains=["example.test"],
                         provision_hostname="mail.example.test",
                         radicale_storage=str(tmp_path / "collections"))
    config.write_text(render_template("radicale", "etc/radicale/config.j2", variables))
    monkeypatch.setattr(program, "RADICALE_CONFIG", str(config))
    return Storage(tmp_path / "collections", monkeypatch, capsys)


def test_a_person_radicale_has_not_seen_has_nothing(storage):
    assert storage.read("anna") == {}


def test_a_written_collection_reads_back_byte_for_byte(storage):
    assert storage.write("anna", "work", TASKS, {"1.ics": EVENT}) == "1\n"
    root = storage.path / "collection-root/anna"
    assert (root / "work/1.ics").read_bytes() == EVENT
    assert storage.read("anna")["work"] == {"props": TASKS, "items": {"1.ics": EVENT}}
    assert not list(root.rglob("*.tmp"))


def test_a_first_write_makes_the_person_predefined_collections(storage):
    """Radicale makes them only for a principal it has not seen: the write must, as Radicale would."""
    config = Path(program.RADICALE_CONFIG).read_text()
    predefined = json.loads(config.split("predefined_collections = ", 1)[1].splitlines()[0])
    assert predefined
    storage.write("anna", "work", TASKS, {})
    props = {name: found["props"] for name, found in storage.read("anna").items()}
    assert props == predefined | {"work": TASKS}


def test_a_second_write_adds_items_and_keeps_the_collection_props(storage):
    storage.write("anna", "work", TASKS, {"1.ics": EVENT})
    renamed = TASKS | {"D:displayname": "Renamed"}
    assert storage.write("anna", "work", renamed, {"2.ics": EVENT, "1.ics": b"new"}) == "2\n"
    assert storage.read("anna")["work"] == {"props": TASKS, "items": {"1.ics": b"new", "2.ics": EVENT}}


def test_read_skips_radicale_own_files_and_folders_without_props(storage):
    storage.write("anna", "work", TASKS, {"1.ics": EVENT})
    root = storage.path / "collection-root/anna"
    (root / "work/.Radicale.cache").mkdir()
    (root / "work/.Radicale.lock").write_text("")
    (root / "stray").mkdir()
    found = storage.read("anna")
    assert set(found["work"]["items"]) == {"1.ics"} and "stray" not in found


def test_another_action_is_refused(storage):
    with pytest.raises(SystemExit, match="provision_radicale_storage: read or write, not delete"):
        storage.run("delete", "anna")
