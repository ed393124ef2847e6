"""The roles' programs for the server, loaded from their files for unit tests, and their templates.

On the server the programs import provision_ldif from /usr/local/lib/provision; here it is the
module the package loads (provision.directory.ldif), the same file.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

import yaml
from ansible.template import Templar, trust_as_template

from provision.directory import ldif
from tests.conftest import REPO

PLAYBOOKS = REPO / "playbooks"


def load(role: str, path: str) -> ModuleType:
    """The program playbooks/roles/ROLE/files/PATH (installed as /PATH) as a module."""
    sys.modules.setdefault("provision_ldif", ldif._reader())
    file = PLAYBOOKS / "roles" / role / "files" / path
    loader = importlib.machinery.SourceFileLoader(f"server_{file.name.replace('-', '_')}", str(file))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def defaults(role: str, **values: Any) -> dict[str, Any]:
    """The variables a role sees in site.yml: its defaults, group_vars/all.yml over them, values over both."""
    variables = yaml.safe_load((PLAYBOOKS / "roles" / role / "defaults/main.yml").read_text())
    variables |= yaml.safe_load((PLAYBOOKS / "group_vars/all.yml").read_text())
    return {**variables, **values}


def render(text: str, variables: dict[str, Any]) -> str:
    """text rendered by Ansible's templating with variables (whose own templates resolve too)."""
    return str(Templar(variables=_trusted(variables)).template(trust_as_template(text)))


def _trusted(value: Any) -> Any:
    """value with every string in it trusted as a template, as Ansible trusts the roles' files."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def render_template(role: str, path: str, variables: dict[str, Any]) -> str:
    return render((PLAYBOOKS / "roles" / role / "templates" / path).read_text(), variables)
