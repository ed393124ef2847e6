"""Reading an inventory directory into an Inventory, reporting every problem at once.

Each problem is one line, `FILE: KEY: what is wrong (hint: how to fix)`, and all of
them are raised together in one ProblemsError, so one run shows everything to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Hashable, Iterator
from dataclasses import MISSING
from pathlib import Path
from typing import Any

import yaml

from provision import files
from provision.errors import ProblemsError
from provision.inventory import (
    CONSULTANT_FILE,
    CUSTOMERS_DIR,
    HOSTS_FILE,
    SETTINGS_FILE,
    VAULT_FILE,
    values,
    vault,
)
from provision.inventory.model import (
    PREFIX,
    FirstAdmin,
    Host,
    Inventory,
    Settings,
    Smarthost,
    TlsMode,
    UpdatePolicy,
)
from provision.inventory.secrets import DKIM_KEYS, load_dkim_key, required_names

REQUIRED = ("domains", "hostname", "public_ipv4", "admin_email", "first_admin")
# Settings that mean something with one TLS mode only; elsewhere they are a mistake.
TLS_MODE_OF = {"tls_cert_file": TlsMode.FILES, "tls_key_file": TlsMode.FILES,
               "acme_directory": TlsMode.ACME, "acme_ca_file": TlsMode.ACME}
EXAMPLE = "inventory.example/group_vars/all/provision.yml"
# A customer's own settings, which a consultant's defaults for every customer cannot give.
CUSTOMER_ONLY = ("domains", "hostname", "public_ipv4", "public_ipv6", "first_admin", "tls_cert_file",
                 "tls_key_file", "acme_ca_file")
# Jinja's delimiters: Ansible would run such a value as a template, on the controller, as its user.
TEMPLATE = re.compile(r"\{\{|\{%|\{#")


class Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, file: Path, key: str | None, what: str, hint: str) -> None:
        place = f"{file}: {key}" if key else str(file)
        self.lines.append(f"{place}: {what} (hint: {hint})")


def load(directory: Path) -> Inventory:
    """The inventory in directory, its vault included, checked."""
    problems = Problems()
    host = _host(directory / HOSTS_FILE, problems)
    fleet = consultant_of(directory)
    base = _consultant(fleet / CONSULTANT_FILE, problems) if fleet else {}
    origins = dict.fromkeys(base, fleet / CONSULTANT_FILE) if fleet else {}
    role_vars = _role_keys(base)
    found = _settings(directory, problems, role_vars, base, origins)
    _role_files(directory, problems, role_vars, origins)
    _role_checks(directory, role_vars, origins, problems)
    _vault(directory, found, problems)
    if problems.lines:
        count = len(problems.lines)
        raise ProblemsError(f"{directory}: {count} problem{'s' if count > 1 else ''} in the inventory",
                            problems.lines)
    assert host is not None
    return Inventory(directory, host, Settings(**found), role_vars, origins, fleet)


def consultant_of(directory: Path) -> Path | None:
    """The fleet directory a customer's inventory lies in (FLEET/customers/NAME), if it has a
    consultant.yml; None for an inventory of its own."""
    fleet = directory.absolute().parent.parent
    in_fleet = directory.absolute().parent.name == str(CUSTOMERS_DIR)
    return fleet if in_fleet and (fleet / CONSULTANT_FILE).is_file() else None


def _consultant(path: Path, problems: Problems) -> dict[str, Any]:
    """consultant.yml's settings and role variables, for every customer; problems for what a consultant
    cannot set."""
    data = read_yaml(path, problems)
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.add(path, None, "must be a mapping of provision_* settings and role variables",
                     f"see {EXAMPLE}")
        return {}
    _unknown_keys(path, data, problems)
    _no_templates(path, data, problems)
    for name in CUSTOMER_ONLY:
        if PREFIX + name in data:
            problems.add(path, PREFIX + name, "is the customer's own, not one for every customer",
                         f"set it in {CUSTOMERS_DIR}/NAME/{SETTINGS_FILE}")
    return {str(key): value for key, value in data.items() if not str(key).startswith("vault_")}


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key given twice in one mapping, which YAML would quietly resolve to the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"{key} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path, problems: Problems) -> Any:
    """The file's data; None with a problem added if it cannot be read or parsed."""
    try:
        return yaml.load(files.read_text(path), Loader=_StrictLoader)
    except files.Refused as refused:
        if not os.path.lexists(path):
            problems.add(path, None, "does not exist", "run provision init to make a new inventory")
        else:
            problems.add(path, None, refused.what, "the inventory's own files are plain files, not links")
    except (OSError, UnicodeDecodeError) as error:
        problems.add(path, None, f"cannot be read ({error})", "check the file's permissions and encoding")
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else None
        problems.add(path, where, f"not valid YAML: {error.problem or error.context}",
                     "check the indentation and quoting there and on the line above")
    except yaml.YAMLError as error:
        problems.add(path, None, f"not valid YAML: {error}", "check the file's syntax")
    return None


def _host(path: Path, problems: Problems) -> Host | None:
    before = len(problems.lines)
    data = read_yaml(path, problems)
    if len(problems.lines) > before:
        return None
    group = data.get("all") if isinstance(data, dict) else None
    hosts = group.get("hosts") if isinstance(group, dict) else None
    if not isinstance(hosts, dict) or len(hosts) != 1:
        problems.add(path, "all.hosts", "must list exactly one host, the mail server",
                     "write all: {hosts: {mail: {ansible_host: ADDRESS, ansible_user: root}}}")
        return None
    _no_templates(path, data, problems)
    [(name, host_vars)] = hosts.items()
    host_vars = host_vars if isinstance(host_vars, dict) else {}
    if "ansible_host" not in host_vars:
        problems.add(path, f"all.hosts.{name}.ansible_host", "is missing",
                     "give the server's address or host name for ssh")
        return None
    key = f"all.hosts.{name}"
    for unknown in sorted(set(map(str, host_vars)) - {"ansible_host", "ansible_user"}):
        problems.add(path, f"{key}.{unknown}", "is not used: provision reaches the server with "
                     "ansible_host and ansible_user only", "remove it")
    for unknown in sorted(set(map(str, group)) - {"hosts"}):
        problems.add(path, f"all.{unknown}", "is not used: the settings are in " + str(SETTINGS_FILE),
                     "remove it")
    address = _checked(path, f"{key}.ansible_host", values.host_address, host_vars["ansible_host"], problems)
    user = _checked(path, f"{key}.ansible_user", values.login, host_vars.get("ansible_user", "root"),
                    problems)
    return Host(str(name), address, user) if address and user else None


def _checked(path: Path, key: str, parse: Callable[[Any], Any], raw: Any, problems: Problems) -> Any:
    """parse(raw), or None with a problem about key."""
    try:
        return parse(raw)
    except values.Invalid as bad:
        problems.add(path, key, bad.what, bad.hint)
        return None


def _settings(directory: Path, problems: Problems, role_vars: dict[str, Any], base: dict[str, Any],
              origins: dict[str, Path]) -> dict[str, Any]:
    """The settings that passed their checks, by field name; problems for the others, each about the
    file that set it. The roles' variables beside them go into role_vars; base holds the consultant's,
    which the customer's own replace."""
    path = directory / SETTINGS_FILE
    before = len(problems.lines)
    data = read_yaml(path, problems)
    if len(problems.lines) > before:
        return {}
    if not isinstance(data, dict):
        problems.add(path, None, "must be a mapping of provision_* settings", f"see {EXAMPLE}")
        return {}
    _unknown_keys(path, data, problems)
    _no_templates(path, data, problems)
    role_vars.update(_role_keys(data))
    origins.update(dict.fromkeys(map(str, data), path))
    data = {**{key: value for key, value in base.items() if key.startswith(PREFIX)}, **data}
    found: dict[str, Any] = {}

    def take(name: str, parse: Callable[[Any], Any]) -> None:
        key = PREFIX + name
        if key not in data:
            if name in REQUIRED:
                problems.add(path, key, "is missing", f"add it; see {EXAMPLE}")
            return
        value = _checked(origins.get(key, path), key, parse, data[key], problems)
        if value is not None:
            found[name] = value

    take("sandbox", values.boolean)
    sandbox = found.get("sandbox", False)
    take("domains", lambda raw: _domains(path, raw, problems))
    take("hostname", values.domain)
    take("public_ipv4", lambda raw: values.public_ipv4(raw, sandbox=sandbox))
    take("public_ipv6", lambda raw: values.public_ipv6(raw, sandbox=sandbox))
    take("admin_email", values.email)
    take("tls_mode", lambda raw: values.choice(raw, TlsMode))
    take("tls_cert_file", lambda raw: values.pem_file(raw, directory, "CERTIFICATE"))
    take("tls_key_file", lambda raw: values.pem_file(raw, directory, "PRIVATE KEY"))
    take("acme_directory", values.https_url)
    take("acme_ca_file", lambda raw: values.pem_file(raw, directory, "CERTIFICATE"))
    take("smarthost", lambda raw: _record(path, PREFIX + "smarthost", raw, problems, Smarthost, {
        "host": values.host_address, "port": lambda port: values.integer(port, 1, 65535),
        "username": values.text}))
    take("message_size_limit_mb", lambda raw: values.integer(raw, 1, 1024))
    take("default_quota_mb", lambda raw: values.integer(raw, 0))
    take("update_policy", lambda raw: values.choice(raw, UpdatePolicy))
    take("first_admin", lambda raw: _record(path, PREFIX + "first_admin", raw, problems, FirstAdmin, {
        "uid": values.person_uid, "name": values.text, "email": values.email}))
    take("dkim_selector", values.dns_label)
    take("webmail", values.boolean)
    take("antivirus", values.boolean)
    _tls_check(path, data, found, problems)
    _first_admin_check(path, found, problems)
    return found


# Role variables provision checks as it checks the settings: those a mistake in which would do harm
# the role's own checks see only when the playbook runs.
ROLE_CHECKS: dict[str, Callable[[Any], Any]] = {"postfix_postscreen_dnsbl_sites": values.dnsbl_sites}


def _role_checks(directory: Path, role_vars: dict[str, Any], origins: dict[str, Path],
                 problems: Problems) -> None:
    for key, parse in ROLE_CHECKS.items():
        if key in role_vars:
            _checked(origins.get(key, directory / SETTINGS_FILE), key, parse, role_vars[key], problems)


def _role_keys(data: dict[Any, Any]) -> dict[str, Any]:
    return {str(key): value for key, value in data.items() if not str(key).startswith((PREFIX, "vault_"))}


def _role_files(directory: Path, problems: Problems, role_vars: dict[str, Any],
                origins: dict[str, Path]) -> None:
    """The roles' variables in files of their own in group_vars/all, as Ansible's layout allows; the
    settings and the secrets have theirs."""
    settings, secrets = directory / SETTINGS_FILE, directory / VAULT_FILE
    if not settings.parent.is_dir():
        return  # _settings reports the missing file
    for path in sorted(settings.parent.iterdir()):
        if path in (settings, secrets) or path.suffix not in (".yml", ".yaml"):
            continue
        data = read_yaml(path, problems)
        if not isinstance(data, dict):
            if data is not None:
                problems.add(path, None, "must be a mapping of role variables", f"see {EXAMPLE}")
            continue
        _no_templates(path, data, problems)
        for key in (str(key) for key in data if str(key).startswith((PREFIX, "vault_"))):
            problems.add(path, key, "belongs elsewhere",
                         f"settings go in {SETTINGS_FILE}, secrets in {VAULT_FILE}")
        role_vars.update(_role_keys(data))
        origins.update(dict.fromkeys(_role_keys(data), path))


def _no_templates(path: Path, data: Any, problems: Problems,
                  hint: str = "inventory values are data, not code: remove the braces") -> None:
    """A problem for every key or value holding a Jinja delimiter (the value itself is not shown: it
    may be a secret). Ansible would template it when a role uses it."""
    for key, value in _strings(data, ""):
        if TEMPLATE.search(value):
            problems.add(path, key or None, "holds a Jinja template ({{, {% or {#), which Ansible would run",
                         hint)


def _strings(data: Any, key: str) -> Iterator[tuple[str, str]]:
    """(dotted key, text) of every key and string value in data."""
    if isinstance(data, dict):
        for name, value in data.items():
            inner = f"{key}.{name}" if key else str(name)
            yield inner, str(name)
            yield from _strings(value, inner)
    elif isinstance(data, list):
        for number, value in enumerate(data):
            yield from _strings(value, f"{key}[{number}]")
    elif isinstance(data, str):
        yield key, data


def _unknown_keys(path: Path, data: dict[Any, Any], problems: Problems) -> None:
    known = [PREFIX + name for name in Settings.names()]
    for key in data:
        key = str(key)
        if key.startswith(PREFIX) and key not in known:
            problems.add(path, key, "is not a provision setting",
                         values.did_you_mean(key, known) or f"remove it; see {EXAMPLE} for the settings")
        elif key.startswith("vault_"):
            problems.add(path, key, "is a secret in a file that is not encrypted",
                         f"move it to {VAULT_FILE} with ansible-vault edit")


def _domains(path: Path, raw: Any, problems: Problems) -> tuple[str, ...] | None:
    """The domains in A-label form; None if any is bad, each bad one a problem of its own."""
    if not isinstance(raw, list) or not raw:
        raise values.Invalid(f"{values.show(raw)} is not a list of domains",
                             "write one domain per line as '- example.org', the primary domain first")
    domains = []
    for item in raw:
        try:
            domains.append(values.domain(item))
        except values.Invalid as bad:
            problems.add(path, PREFIX + "domains", bad.what, bad.hint)
    twice = sorted({domain for domain in domains if domains.count(domain) > 1})
    if twice:
        raise values.Invalid(f"lists {', '.join(twice)} more than once", "list each domain once")
    return tuple(domains) if len(domains) == len(raw) else None


def _record(path: Path, key: str, raw: Any, problems: Problems, kind: type,
            parsers: dict[str, Callable[[Any], Any]]) -> Any:
    """A mapping of a few named fields, each checked on its own; None if any is bad."""
    if not isinstance(raw, dict):
        raise values.Invalid(f"{values.show(raw)} is not a mapping", f"write {', '.join(parsers)} below it")
    before = len(problems.lines)
    for name in raw:
        if name not in parsers:
            problems.add(path, f"{key}.{name}", "is not known here",
                         values.did_you_mean(str(name), parsers) or f"use {', '.join(parsers)}")
    fields = {}
    for name, parse in parsers.items():
        if name in raw:
            fields[name] = _checked(path, f"{key}.{name}", parse, raw[name], problems)
        elif _required(kind, name):
            problems.add(path, f"{key}.{name}", "is missing", f"add {name} below {key}")
    return kind(**fields) if len(problems.lines) == before else None


def _required(kind: type, name: str) -> bool:
    field = kind.__dataclass_fields__[name]
    return field.default is MISSING and field.default_factory is MISSING


def _tls_check(path: Path, data: dict[Any, Any], found: dict[str, Any], problems: Problems) -> None:
    """The certificate settings the TLS mode needs are there, and no others."""
    if PREFIX + "tls_mode" in data and "tls_mode" not in found:
        return  # the mode itself is bad: that problem is enough
    mode = found.get("tls_mode", TlsMode.ACME)
    for name, needs in TLS_MODE_OF.items():
        key = PREFIX + name
        if key in data and mode is not needs:
            problems.add(path, key, f"is only used with provision_tls_mode: {needs}",
                         f"remove it, or set provision_tls_mode: {needs}")
        elif needs is TlsMode.FILES and mode is TlsMode.FILES and key not in data:
            problems.add(path, key, "is missing", "give the file's path with provision_tls_mode: files")


def _first_admin_check(path: Path, found: dict[str, Any], problems: Problems) -> None:
    admin = found.get("first_admin")
    domains = found.get("domains")
    if admin and domains and admin.email.rpartition("@")[2] not in domains:
        problems.add(path, f"{PREFIX}first_admin.email", f"{values.show(admin.email)} is not in one of "
                     "provision_domains", "give the first admin an address in one of the mail domains")


def _vault(directory: Path, found: dict[str, Any], problems: Problems) -> None:
    path = directory / VAULT_FILE
    try:
        secrets = vault.read(directory)
    except vault.VaultError as error:
        problems.add(path, None, error.what, error.hint or "")
        return
    edit = f"ansible-vault edit --vault-password-file {vault.password_file(directory)} {path}"
    _no_templates(path, secrets, problems, hint=f"change it with: {edit}")
    for name in required_names(smarthost=bool(found.get("smarthost")), webmail=bool(found.get("webmail"))):
        if name == DKIM_KEYS:
            continue
        if not isinstance(secrets.get(name), str) or not secrets[name]:
            problems.add(path, name, "is missing", f"add it with: {edit}")
    keys = secrets.get(DKIM_KEYS)
    if not isinstance(keys, dict):
        problems.add(path, DKIM_KEYS, "is missing or not a mapping of domain to key",
                     f"add it with: {edit}")
        return
    for domain in found.get("domains", ()):
        try:
            load_dkim_key(str(keys.get(domain, "")))
        except ValueError as error:
            what = "is missing" if domain not in keys else str(error)
            problems.add(path, f"{DKIM_KEYS}.{domain}", what,
                         f"make one with 'openssl genrsa 2048' and add it with: {edit}")
