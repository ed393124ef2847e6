"""The one LDIF reader: the server's provision_ldif.py, as the package reads an archive with it."""

from __future__ import annotations

import pytest

from provision.directory import ldif

READER = ldif._reader()


def test_folded_lines_base64_values_and_comments():
    text = ("version: 1\n"
            "# a comment\n"
            "dn: uid=j,ou=people,dc=example,dc=test\n"
            "cn:: SsO2cmc=\n"
            "description: a long value that goes\n"
            "  on here\n"
            "mail: j@example.test\n"
            "mail: jorg@example.test\n"
            "\n\n"
            "dn: ou=people,dc=example,dc=test\r\n"
            "ou: people\r\n")
    assert ldif.entries(text.encode()) == [
        {"dn": ["uid=j,ou=people,dc=example,dc=test"], "cn": ["Jörg"],
         "description": ["a long value that goes on here"], "mail": ["j@example.test", "jorg@example.test"]},
        {"dn": ["ou=people,dc=example,dc=test"], "ou": ["people"]},
    ]


def test_change_records_keep_their_order_and_separators():
    text = "dn: cn=config\nchangetype: modify\nreplace: olcLogLevel\nolcLogLevel: stats\n-\n"
    (record,) = READER.records(text)
    assert record == [("dn", "cn=config"), ("changetype", "modify"), ("replace", "olcLogLevel"),
                      ("olcLogLevel", "stats"), ("-", "")]


@pytest.mark.parametrize("text, error", [
    ("cn: no dn\n", "record without dn"),
    ("dn: x\nno colon here\n", "not an LDIF line"),
])
def test_what_is_not_ldif_is_refused(text, error):
    with pytest.raises(ValueError, match=error):
        ldif.entries(text.encode())
