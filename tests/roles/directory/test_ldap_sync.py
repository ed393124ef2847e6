"""provision-ldap-sync's comparison: which changes an LDIF calls for against the entries slapd holds.

slapd is stood in for by the entries it would return (the program's Slapd interface: read, bind,
hash, modify, schemas); the real one is tests/roles/test_directory.py's.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.programs import load

sync = load("directory", "usr/local/sbin/provision-ldap-sync")

BASE = "dc=example,dc=test"
ALICE = f"uid=alice,ou=people,{BASE}"
DATABASE = "olcDatabase={1}mdb,cn=config"


class Entries:
    """What slapd holds: entries (as LDIF), the passwords a bind accepts; what was written to it."""

    def __init__(self, text: str = "", passwords: dict[str, str] | None = None,
                 schemas: frozenset[str] = frozenset()):
        self.entries = {record["dn"]: record["attrs"] for record in sync.parse(textwrap.dedent(text))}
        self.passwords = passwords or {}
        self.loaded = set(schemas)
        self.written: list[str] = []

    def read(self, dn):
        return self.entries.get(dn)

    def bind_ok(self, dn, password):
        return self.passwords.get(dn) == password

    def hash(self, password):
        return "{TEST}" + password[::-1]

    def modify(self, text):
        self.written.append(text)

    def schemas(self):
        return self.loaded

    def load_schema(self, name):
        self.written.append(f"schema {name}")


def apply(slapd: Entries, ldif: str, check: bool = False) -> list[str]:
    run = sync.Sync(slapd, check)
    for record in sync.parse(textwrap.dedent(ldif)):
        run.record(record)
        run.apply()
        run.ldif = []
    return run.changes


PERSON = f"""\
    dn: {ALICE}
    objectClass: inetOrgPerson
    uid: alice
    cn: Alice Admin
    sn: Admin
    mail: alice@example.test
    """


def test_a_missing_entry_is_added_with_a_hash_for_its_clear_text_password():
    slapd = Entries()
    changes = apply(slapd, PERSON + "userPassword: secret 1\n")
    assert changes == [f"{ALICE}: add entry"]
    (written,) = slapd.written
    assert written.startswith(f"dn: {ALICE}\nchangetype: add\n")
    assert "userPassword: {TEST}1 terces\n" in written and "secret 1" not in written


def test_an_entry_as_described_changes_nothing():
    slapd = Entries(PERSON.replace("Alice Admin", "alice   admin").replace("inetOrgPerson", "INETORGPERSON"))
    # cn compares with white space collapsed (templates may wrap) but not without case: a change.
    assert apply(slapd, PERSON) == [f"{ALICE}: replace cn: Alice Admin"]
    slapd = Entries(PERSON)
    assert apply(slapd, PERSON.replace("Alice Admin", "Alice\n      Admin")) == []
    assert slapd.written == []


def test_objectclasses_are_only_added_and_other_attributes_replaced():
    slapd = Entries(PERSON.replace("objectClass: inetOrgPerson", "objectClass: person"))
    changes = apply(slapd, PERSON.replace("sn: Admin", "sn: Boss"))
    assert changes == [f"{ALICE}: add objectClass: inetOrgPerson", f"{ALICE}: replace sn: Boss"]
    (written,) = slapd.written
    assert "add: objectClass\nobjectClass: inetOrgPerson\n-\nreplace: sn\nsn: Boss\n-" in written


def test_an_initial_attribute_is_given_once_and_then_left_to_its_owner():
    slapd = Entries()
    assert apply(slapd, PERSON + "userPassword;initial: first\n") == [f"{ALICE}: add entry"]
    assert "userPassword: {TEST}tsrif" in slapd.written[0]
    slapd = Entries(PERSON + "userPassword: {ARGON2}changed by alice\n")
    assert apply(slapd, PERSON + "userPassword;initial: first\n") == []


def test_a_password_that_binds_stays_and_one_that_does_not_is_replaced():
    held = PERSON + "userPassword: {ARGON2}old\n"
    assert apply(Entries(held, passwords={ALICE: "right"}), PERSON + "userPassword: right\n") == []
    slapd = Entries(held, passwords={ALICE: "old one"})
    assert apply(slapd, PERSON + "userPassword: right\n") == [f"{ALICE}: replace userPassword: (password)"]
    assert "userPassword: {TEST}thgir" in slapd.written[0]
    checked = Entries(held)
    assert apply(checked, PERSON + "userPassword: right\n", check=True) == [
        f"{ALICE}: replace userPassword: (password)"]
    assert checked.written == []


def test_ordered_values_compare_without_their_index_but_in_order():
    held = f"""\
        dn: {DATABASE}
        olcAccess: {{0}}to attrs=userPassword by self write
        olcAccess: {{1}}to * by * read
        """
    assert apply(Entries(held), f"""\
        dn: {DATABASE}
        changetype: modify
        replace: olcAccess
        olcAccess: to attrs=userPassword  by self write
        olcAccess: to * by * read
        -
        """) == []
    swapped = apply(Entries(held), f"""\
        dn: {DATABASE}
        changetype: modify
        replace: olcAccess
        olcAccess: to * by * read
        olcAccess: to attrs=userPassword by self write
        """)
    assert swapped == [f"{DATABASE}: replace olcAccess: to * by * read, to attrs=userPassword by self write"]


def test_modify_adds_what_is_missing_and_deletes_what_is_there():
    held = f"dn: {DATABASE}\nolcDbIndex: uid eq\nolcDbIndex: mail eq\n"
    changes = apply(Entries(held), f"""\
        dn: {DATABASE}
        changetype: modify
        add: olcDbIndex
        olcDbIndex: UID EQ
        olcDbIndex: cn eq
        -
        delete: olcDbIndex
        olcDbIndex: mail eq
        olcDbIndex: member eq
        -
        """)
    assert changes == [f"{DATABASE}: add olcDbIndex: cn eq", f"{DATABASE}: delete olcDbIndex: mail eq"]


def test_the_suffix_is_never_changed_in_place():
    with pytest.raises(sync.SyncError, match="olcSuffix is 'dc=other,dc=test'"):
        apply(Entries(f"dn: {DATABASE}\nolcSuffix: dc=other,dc=test\n"),
              f"dn: {DATABASE}\nchangetype: modify\nreplace: olcSuffix\nolcSuffix: {BASE}\n")


def test_a_modify_of_a_missing_entry_is_an_error_unless_checking():
    record = f"dn: {DATABASE}\nchangetype: modify\nreplace: olcSuffix\nolcSuffix: {BASE}\n"
    with pytest.raises(sync.SyncError, match="no such entry"):
        apply(Entries(), record)
    assert apply(Entries(), record, check=True) == [f"{DATABASE}: modify, once the entry exists"]


def test_schemas_not_loaded_are_loaded_by_name():
    slapd = Entries(schemas={"core", "cosine"})
    run = sync.Sync(slapd, False)
    run.schemas(["core", "cosine", "inetorgperson"])
    assert run.changes == ["cn=inetorgperson,cn=schema,cn=config: load /etc/ldap/schema/inetorgperson.ldif"]
    assert slapd.written == ["schema inetorgperson"]


@pytest.mark.parametrize("text, error", [
    ("dn: x\nchangetype: moddn\n", "changetype moddn not supported"),
    ("dn: x\nchangetype: modify\nreplace: a\nb: 1\n", "b inside the a operation"),
    ("dn: x\nchangetype: modify\nreplace: a;initial\na: 1\n", "only in add records"),
])
def test_records_it_cannot_apply_are_refused(text, error):
    with pytest.raises(sync.SyncError, match=error):
        sync.parse(text)


def test_values_that_are_not_safe_strings_are_written_in_base64():
    assert sync.line_for("cn", "Alice") == "cn: Alice"
    assert sync.line_for("cn", "Jörg") == "cn:: SsO2cmc="
    assert sync.line_for("description", " leading") == "description:: IGxlYWRpbmc="
