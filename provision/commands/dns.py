"""`provision dns records` and `provision dns push`: the DNS records a customer must publish."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dns.name
import dns.rdatatype

from provision import files
from provision.console import Console
from provision.dns import update, zonefile
from provision.dns.records import MailRecords, MtaStsMode, Record, absolute, is_within, mail_records
from provision.errors import ExitStatus, UsageError
from provision.inventory import vault
from provision.inventory.load import load
from provision.inventory.model import Inventory
from provision.inventory.secrets import DKIM_KEYS


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("dns", parents=[common], help="the DNS records the mail server needs")
    actions = group.add_subparsers(title="actions", metavar="ACTION", parser_class=type(group))
    actions.required = True
    records = actions.add_parser(
        "records", parents=[common], help="print every record to publish, as a zone-file snippet",
        description="Print the records each domain must publish (MX, addresses, SPF, DKIM, DMARC, MTA-STS, "
                    "TLS-RPT, SRV, autoconfig, CAA, TLSA) as zone-file text, or as JSON with --json, "
                    "and the MTA-STS policy file the web server serves.",
    )
    _record_options(records)
    records.set_defaults(handler=_records)

    push = actions.add_parser(
        "push", parents=[common], help="apply the records by RFC 2136 dynamic update",
        description="Ask the server for the records provision manages, show the difference, and apply it "
                    "with one TSIG-signed UPDATE per zone. Other names and types are never touched.",
    )
    _record_options(push)
    push.add_argument("--server", required=True, metavar="HOST", help="the zone's primary name server")
    push.add_argument("--port", type=int, default=53, metavar="PORT", help="default: %(default)s")
    push.add_argument("--tsig-key", required=True, type=Path, metavar="FILE",
                      help='a key file: key "NAME" { algorithm hmac-sha256; secret "BASE64"; };')
    push.add_argument("--zone", action="append", default=[], metavar="ZONE",
                      help="the zone holding a domain's records when it is not the domain itself; repeat")
    push.add_argument("--dry-run", action="store_true", help="show the difference only")
    push.add_argument("--yes", action="store_true", help="apply without asking")
    push.set_defaults(handler=_push)


def _record_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory")
    parser.add_argument("--dnssec", action="store_true", help="the zones are DNSSEC-signed: add TLSA")
    parser.add_argument("--tlsa-cert", type=Path, metavar="FILE",
                        help="the server's certificate (PEM), for the TLSA record")
    parser.add_argument("--mta-sts-mode", choices=[mode.value for mode in MtaStsMode],
                        default=MtaStsMode.TESTING.value, help="default: %(default)s")


def _mail_records(args: argparse.Namespace) -> tuple[Inventory, MailRecords]:
    inventory = load(args.dir)
    certificate = None
    if args.tlsa_cert:
        try:
            certificate = files.read_bytes(args.tlsa_cert)
        except OSError as error:
            raise UsageError(f"{args.tlsa_cert}: cannot be read ({error.strerror})") from None
    keys = vault.read(args.dir).get(DKIM_KEYS, {})
    try:
        return inventory, mail_records(inventory, keys, dnssec=args.dnssec, tls_certificate=certificate,
                                       mta_sts_mode=MtaStsMode(args.mta_sts_mode))
    except ValueError as error:  # only the certificate is not checked by the inventory's loader
        raise UsageError(f"{args.tlsa_cert}: is not a PEM certificate ({error})") from None


def _records(args: argparse.Namespace, console: Console) -> int:
    inventory, found = _mail_records(args)
    zones = [absolute(domain) for domain in inventory.settings.domains]
    policy = "".join(f";   {line}\n" for line in found.mta_sts_policy.splitlines())
    notes = "".join(f";   {note}\n" for note in found.notes)
    console.result(
        {"records": [_as_dict(record) for record in found.records], "mta_sts_policy": found.mta_sts_policy,
         "notes": list(found.notes)},
        zonefile.render(found.records, zones)
        + "\n;; ---- the MTA-STS policy: https://mta-sts.DOMAIN/.well-known/mta-sts.txt ----\n"
        + policy + "\n;; ---- notes ----\n" + notes,
    )
    return ExitStatus.OK


def _as_dict(record: Record) -> dict[str, object]:
    return {"name": record.name, "type": record.type, "ttl": record.ttl, "value": record.value,
            "purpose": record.purpose.value}


def _push(args: argparse.Namespace, console: Console) -> int:
    key = update.read_key(args.tsig_key)
    inventory, found = _mail_records(args)
    server = update.Server(update.address_of(args.server, "--server"), args.port, key)
    by_zone = _zones(inventory, args.zone, found.records)
    plans = {zone: update.plan(server, dns.name.from_text(zone), update.managed(records))
             for zone, records in by_zone.items() if zone}
    changes = [change for zone_changes in plans.values() for change in zone_changes]
    outside = by_zone.get(None, [])
    data = {"server": f"{args.server}:{args.port}", "changes": [change.as_dict() for change in changes],
            "not_pushed": [_as_dict(record) for record in outside], "applied": False}
    if not console.json:
        console.result(None, _difference(plans, outside))
    if not changes or args.dry_run:
        console.result(data, "nothing to change" if not changes else None)
        return ExitStatus.OK
    if not (args.yes or sys.stdin.isatty()):
        raise UsageError("nothing was changed: there is no terminal to confirm on",
                         hint="give --yes to apply the difference shown, or --dry-run")
    if not args.yes and not _confirmed(console, len(changes)):
        console.result(data, "nothing was changed")
        return ExitStatus.OK
    for zone, zone_changes in plans.items():
        if zone_changes:
            _apply(server, dns.name.from_text(zone), zone_changes, by_zone[zone])
            console.info(f"updated zone {zone}: {len(zone_changes)} RRset(s)")
    console.result({**data, "applied": True}, f"applied {len(changes)} change(s)")
    return ExitStatus.OK


def _apply(server: update.Server, zone: dns.name.Name, changes: list[update.Change],
           records: list[Record]) -> None:
    """Apply the changes and check that they took: RFC 2136 §3.4.2.2 has a server silently ignore
    an update it cannot apply, such as a record added where a CNAME stands."""
    update.apply(server, zone, changes)
    missed = update.plan(server, zone, update.managed(records))
    if missed:
        names = ", ".join(f"{change.name} {dns.rdatatype.to_text(change.rdtype)}" for change in missed)
        raise update.ServerError(f"{server.address} accepted the update of zone {zone} but did not apply: "
                                 f"{names}", hint="a CNAME at such a name hides other records: remove it")


def _zones(inventory: Inventory, given: list[str],
           records: tuple[Record, ...]) -> dict[str | None, list[Record]]:
    """The records by the zone they go to: a --zone holding a domain, else the domain itself."""
    zones = [absolute(zone) for zone in given]
    zones += [absolute(domain) for domain in inventory.settings.domains
              if not any(is_within(domain, zone) for zone in zones)]
    by_zone: dict[str | None, list[Record]] = {zone: [] for zone in zones}
    for record in records:
        by_zone.setdefault(zonefile.zone_of(record.name, zones), []).append(record)
    return by_zone


def _difference(plans: dict[str, list[update.Change]], outside: list[Record]) -> str:
    lines = []
    for zone, changes in plans.items():
        lines.append(f"zone {zone}: " + (f"{len(changes)} RRset(s) to change" if changes else "up to date"))
        for change in changes:
            kind = dns.rdatatype.to_text(change.rdtype)
            lines.append(f"  {change.action.value} {change.name} {kind}")
            lines += [f"    - {change.name} {kind} {rdata}" for rdata in change.old]
            lines += [f"    + {change.name} {change.ttl} {kind} {rdata}" for rdata in change.new]
    if outside:
        lines.append("not pushed, outside the zones (publish them by hand):")
        lines += [f"  {zonefile.line(record)}" for record in outside]
    return "\n".join(lines)


def _confirmed(console: Console, count: int) -> bool:
    print(f"apply {count} change(s)? [y/N] ", end="", file=console.err, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
