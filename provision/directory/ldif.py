"""LDIF read into entries, by the reader provision-ldap-sync uses on the server.

The reader is one file, the directory role's provision_ldif.py: the server runs it beside
provision-ldap-sync (it needs the standard library only), and the package loads that same file.
"""

from __future__ import annotations

import functools
import importlib.util
from types import ModuleType

from provision.ansible import PLAYBOOKS

READER = PLAYBOOKS / "roles/directory/files/usr/local/lib/provision/provision_ldif.py"


@functools.cache
def _reader() -> ModuleType:
    spec = importlib.util.spec_from_file_location("provision_ldif", READER)
    assert spec is not None and spec.loader is not None, READER
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entries(data: bytes) -> list[dict[str, list[str]]]:
    """The content records of an LDIF file as {attribute: [values]}, the dn under "dn".

    ValueError when data is not LDIF (a line without a colon, a record without a dn, bad base64).
    """
    return _reader().entries(data.decode())
