# managed by provision: changes here are overwritten by `provision apply`
"""LDIF read into records (RFC 2849): the one reader of provision-ldap-sync and of provision itself.

Standard library only: the server runs it beside provision-ldap-sync, and the provision package
loads this same file to read the LDIF of an archive.
"""

import base64

SEPARATOR = ("-", "")  # the line that ends one operation of a modify record


class LdifError(ValueError):
    pass


def unfold(text):
    """The lines with their continuations joined and comments dropped; blank lines kept."""
    lines = []
    for line in text.splitlines():
        if line.startswith(" ") and lines and lines[-1] != "":
            lines[-1] += line[1:]
        elif not line.startswith("#"):
            lines.append(line)
    return lines


def pair(line):
    """(name, value) of one line, a base64 value ("name:: ...") decoded."""
    if line == "-":
        return SEPARATOR
    name, colon, rest = line.partition(":")
    if not colon:
        raise LdifError(f"not an LDIF line: {line[:60]!r}")
    if rest.startswith(":"):
        return name.strip(), base64.b64decode(rest[1:].strip()).decode()
    return name.strip(), rest.lstrip(" ")


def records(text):
    """Each record as its (name, value) pairs in order, the first being its dn."""
    found, block = [], []
    for line in [*unfold(text), ""]:
        if line:
            block.append(pair(line))
            continue
        if block and block[0][0].lower() == "version" and not found:
            block = block[1:]  # "version: 1" heads a file, not a record
        if block:
            if block[0][0].lower() != "dn":
                raise LdifError(f"record without dn: {block[0][0]}: {block[0][1][:60]!r}")
            found.append(block)
        block = []
    return found


def entries(text):
    """Content records as {attribute: [values]}, the dn under "dn" and names as written."""
    found = []
    for record in records(text):
        entry = {}
        for name, value in record:
            entry.setdefault(name, []).append(value)
        found.append(entry)
    return found
