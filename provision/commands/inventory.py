"""`provision init`, `provision secret` and `provision inventory check`: a customer's inventory."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from provision.console import Console, table
from provision.errors import ExitStatus, ProblemsError, UsageError
from provision.inventory import SETTINGS_FILE, VAULT_FILE, values, vault
from provision.inventory.create import create
from provision.inventory.fleet import is_fleet, load_fleet
from provision.inventory.load import load
from provision.inventory.model import FirstAdmin, Host, Inventory, Settings, TlsMode, plain
from provision.sandbox import machine


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    init = commands.add_parser(
        "init", parents=[common], help="write a new customer inventory with generated secrets",
        description="Write a new inventory directory: hosts.yml, group_vars/all/provision.yml (the "
                    "settings, commented) and group_vars/all/vault.yml (generated passwords and DKIM "
                    f"keys, encrypted). The vault password is read from ${vault.PASSWORD_FILE_VARIABLE} "
                    "if set, else from ~/.config/provision/vault/DIRNAME.password, made if missing.",
    )
    init.add_argument("dir", metavar="DIR", type=Path, help="the new inventory directory")
    init.add_argument("--domain", action="append", required=True, metavar="DOMAIN",
                      help="a mail domain; repeat for more, the primary first")
    init.add_argument("--hostname", required=True, metavar="FQDN", help="the mail server's host name")
    init.add_argument("--host", required=True, metavar="ADDRESS", help="where ssh reaches the server")
    init.add_argument("--ssh-user", default="root", metavar="USER", help="default: %(default)s")
    init.add_argument("--public-ipv4", metavar="ADDRESS", help="default: --host, if it is an IPv4 address")
    init.add_argument("--public-ipv6", metavar="ADDRESS")
    init.add_argument("--admin-email", metavar="ADDRESS",
                      help="for certificate notices and DMARC reports (default: admin@PRIMARY-DOMAIN)")
    init.add_argument("--tls", choices=[mode.value for mode in TlsMode],
                      help="how the server gets its certificate (default: acme; self-signed with --sandbox)")
    init.add_argument("--tls-cert", metavar="FILE", help="certificate chain, with --tls files")
    init.add_argument("--tls-key", metavar="FILE", help="private key, with --tls files")
    init.add_argument("--sandbox", action="store_true", help="a local test server: private addresses allowed")
    init.set_defaults(handler=_init)

    secret = commands.add_parser(
        "secret", parents=[common], help="print one secret from an inventory's vault",
        description="Print one secret by its vault name, e.g. vault_first_admin_password, or "
                    "vault_dkim_private_keys.DOMAIN for a DKIM key.",
    )
    secret.add_argument("dir", metavar="DIR", type=Path)
    secret.add_argument("name", metavar="NAME")
    secret.set_defaults(handler=_secret)

    inventory = commands.add_parser("inventory", parents=[common], help="check a customer inventory")
    actions = inventory.add_subparsers(title="actions", metavar="ACTION", parser_class=type(inventory))
    actions.required = True
    check = actions.add_parser("check", parents=[common], help="validate the inventory and its vault")
    check.add_argument("dir", metavar="DIR", type=Path)
    check.set_defaults(handler=_check)
    show = actions.add_parser("show", parents=[common], help="print every effective setting",
                              description="Print every setting and role variable the inventory gives the "
                                          "roles; with a fleet directory, each customer's.")
    show.add_argument("dir", metavar="DIR", type=Path, help="a customer's inventory or a fleet directory")
    show.add_argument("--origin", action="store_true",
                      help="say where each came from: consultant.yml, the customer's file, or the default")
    show.set_defaults(handler=_show)


def _init(args: argparse.Namespace, console: Console) -> int:
    directory: Path = args.dir
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(f"{directory} exists and is not empty",
                         hint="give a new or empty directory; init never overwrites an inventory")
    box = None if args.sandbox else machine.at(args.host)
    if box is not None and box.state == "running":
        # Without --sandbox, apply would log in with the user's own keys, which the sandbox does not know.
        console.info(f"{args.host} is the sandbox {box.name}: writing an inventory for it, as --sandbox does")
        args.sandbox = True
    host, settings = _from_options(args)
    console.info(f"generating {len(settings.domains)} DKIM key(s) and the service passwords")
    created = create(directory, host, settings)
    inventory, written, password_file = created.inventory, created.files, created.password_file
    console.result(
        {"directory": str(directory), "files": [str(path) for path in written],
         "vault_password_file": str(password_file), "secrets": created.secret_names,
         "host": plain(host), "settings": inventory.settings.ansible_vars()},
        f"wrote the inventory for {settings.domains[0]}:\n"
        + "".join(f"  {path}\n" for path in written)
        + f"vault password file: {password_file} (keep it safe, never commit it)\n"
        f"next: review {directory / SETTINGS_FILE}, then: provision inventory check {directory}",
    )
    return ExitStatus.OK


def _from_options(args: argparse.Namespace) -> tuple[Host, Settings]:
    """The host and settings the options give; every bad option reported at once."""
    problems: list[str] = []

    def check(option: str, value: Any, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(value) if value is not None else None
        except values.Invalid as bad:
            problems.append(f"{option}: {bad.what} (hint: {bad.hint})")
            return None

    domains = [check("--domain", domain, values.domain) for domain in args.domain]
    twice = sorted({domain for domain in domains if domain and domains.count(domain) > 1})
    if twice:
        problems.append(f"--domain: {', '.join(twice)} is given more than once (hint: give each domain once)")
    address = check("--host", args.host, values.host_address)
    user = check("--ssh-user", args.ssh_user, values.login)
    ipv4_text = args.public_ipv4 or (args.host if _is_ipv4(args.host) else None)
    if ipv4_text is None:
        problems.append("--public-ipv4: is missing (hint: give the server's public IPv4 address; "
                        "it defaults to --host only when that is an IPv4 address)")
    tls = TlsMode(args.tls or (TlsMode.SELF_SIGNED if args.sandbox else TlsMode.ACME))
    files = {"--tls-cert": args.tls_cert, "--tls-key": args.tls_key}
    for option, given in files.items():
        if (tls is TlsMode.FILES) != (given is not None):
            problems.append(f"{option}: is {'missing' if given is None else 'only used with --tls files'} "
                            "(hint: give --tls files with both --tls-cert and --tls-key)")
    settings = {
        "hostname": check("--hostname", args.hostname, values.domain),
        "public_ipv4": check("--public-ipv4", ipv4_text, partial(values.public_ipv4, sandbox=args.sandbox)),
        "public_ipv6": check("--public-ipv6", args.public_ipv6,
                             partial(values.public_ipv6, sandbox=args.sandbox)),
        "tls_cert_file": check("--tls-cert", args.tls_cert,
                               partial(values.pem_file, base=Path.cwd(), label="CERTIFICATE")),
        "tls_key_file": check("--tls-key", args.tls_key,
                              partial(values.pem_file, base=Path.cwd(), label="PRIVATE KEY")),
        "admin_email": check("--admin-email", args.admin_email, values.email),
    }
    if problems:
        raise ProblemsError(f"nothing was written to {args.dir}", problems)
    admin = FirstAdmin(uid="admin", name="Administrator", email=f"admin@{domains[0]}")
    settings["admin_email"] = settings["admin_email"] or admin.email
    return (Host(name="mail", address=address, user=user),
            Settings(domains=tuple(domains), first_admin=admin, tls_mode=tls, sandbox=args.sandbox,
                     **{name: value for name, value in settings.items() if value is not None}))


def _is_ipv4(text: str) -> bool:
    try:
        IPv4Address(text)
    except ValueError:
        return False
    return True


def _secret(args: argparse.Namespace, console: Console) -> int:
    secrets = _by_name(vault.read(args.dir))
    if args.name not in secrets:
        raise UsageError(f"{args.dir / VAULT_FILE} holds no secret named {args.name}",
                         hint=f"the names are: {', '.join(sorted(secrets))}")
    console.result({"name": args.name, "secret": secrets[args.name]}, secrets[args.name])
    return ExitStatus.OK


def _by_name(secrets: dict[str, Any]) -> dict[str, str]:
    """Each secret by its name; a mapping's entries (DKIM keys) as NAME.KEY."""
    flat = {}
    for name, value in secrets.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{key}": str(item) for key, item in value.items()})
        else:
            flat[str(name)] = str(value)
    return flat


def _check(args: argparse.Namespace, console: Console) -> int:
    inventory = load(args.dir)
    console.result(
        {"directory": str(args.dir), "host": plain(inventory.host),
         "settings": inventory.settings.ansible_vars()},
        table(_summary(inventory), [("setting", "setting"), ("value", "value")])
        + f"\n{args.dir}: the inventory and its vault are valid",
    )
    return ExitStatus.OK


def _summary(inventory: Inventory) -> list[dict[str, str]]:
    settings, host = inventory.settings, inventory.host
    tls = {TlsMode.ACME: settings.acme_directory, TlsMode.FILES: str(settings.tls_cert_file)}
    smarthost = settings.smarthost
    rows = {
        "server": f"{host.name}: {host.user}@{host.address}",
        "domains": ", ".join(settings.domains),
        "hostname": settings.hostname,
        "addresses": " ".join(str(ip) for ip in (settings.public_ipv4, settings.public_ipv6) if ip),
        "tls": " ".join(filter(None, (settings.tls_mode.value, tls.get(settings.tls_mode)))),
        "smarthost": f"{smarthost.host}:{smarthost.port}" if smarthost else "none",
        "first admin": f"{settings.first_admin.uid} <{settings.first_admin.email}>",
        "message size": f"{settings.message_size_limit_mb} MB",
        "quota": f"{settings.default_quota_mb} MB" if settings.default_quota_mb else "unlimited",
        "updates": settings.update_policy.value,
        "sandbox": "yes" if settings.sandbox else "no",
    }
    return [{"setting": name, "value": value} for name, value in rows.items()]


def _show(args: argparse.Namespace, console: Console) -> int:
    fleet = load_fleet(args.dir) if is_fleet(args.dir) else None
    if fleet and not fleet.customers:
        raise ProblemsError(f"{args.dir}: every customer's inventory has problems",
                            [f"{name}: {line}" for name, lines in fleet.refused.items() for line in lines])
    inventories = fleet.customers if fleet else {"": load(args.dir)}
    shown = {name: _effective(inventory) for name, inventory in inventories.items()}
    columns = [("customer", "customer")] if fleet else []
    columns += [("name", "variable"), ("value", "value")] + ([("origin", "origin")] if args.origin else [])
    rows = [{"customer": name, "name": key, "origin": entry["origin"],
             "value": json.dumps(entry["value"], ensure_ascii=False)}
            for name, entries in shown.items() for key, entry in entries.items()]
    refused = fleet.refused if fleet else {}
    console.result({"customers": shown, "refused": refused} if fleet else {"settings": shown[""]},
                   table(rows, columns) + "".join(f"\n{name}: refused: {line}" for name, lines in
                                                  refused.items() for line in lines))
    return ExitStatus.FAILURE if refused else ExitStatus.OK


def _effective(inventory: Inventory) -> dict[str, dict[str, Any]]:
    """Each variable the roles get from the inventory, its value and where it was set."""
    return {key: {"value": value,
                  "origin": str(inventory.origins.get(key, "default"))}
            for key, value in sorted(inventory.ansible_vars().items())}
