"""`provision cutover plan|run|status|rollback DIR --from ACCOUNTS`: the run-book of a move, as a
resumable state machine whose state lives beside the inventory (provision/cutover)."""

from __future__ import annotations

import argparse
from pathlib import Path

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from provision.commands import arguments
from provision.console import Console, table
from provision.cutover import dns as records
from provision.cutover import state as states
from provision.cutover.dns import Dns
from provision.cutover.state import STEPS, Cutover, Direction, Rrset, Step
from provision.cutover.steps import Cutting, Timing, rollback
from provision.cutover.sync import Sides
from provision.dns import update, zonefile
from provision.dns.records import TTL, Purpose, absolute, is_within, mail_records
from provision.errors import ExitStatus, ProblemsError
from provision.inventory import HOSTS_FILE, vault
from provision.inventory.load import load
from provision.inventory.model import Inventory
from provision.inventory.secrets import DKIM_KEYS
from provision.migrate.endpoints import Tls, read_accounts
from provision.migrate.state import default_path

DAY = 86400.0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser(
        "cutover", parents=[common], help="move a company to its own server (or back), DNS and all",
        description="The run-book of a move, as steps that resume where they stopped: preflight, pre-sync, "
                    "ttl, switch, final-delta, verify, ttl-restore. The state is kept in "
                    f"DIR/{states.FILE} (no secrets). ACCOUNTS is the provider's accounts file, as for "
                    "`provision migrate`; --direction to-provider reads it backwards to move back.")
    actions = group.add_subparsers(title="actions", metavar="ACTION", parser_class=type(group))
    actions.required = True
    helps = {"plan": "show every step, the records the switch sets and the waits; change nothing",
             "run": "run the pending steps (all, or up to --until STEP)",
             "status": "show which steps are done, and the migration passes",
             "rollback": "before the last step: put the old records back, report what arrived meanwhile"}
    for name, text in helps.items():
        action = actions.add_parser(name, parents=[common], help=text, description=text)
        _options(action)
        if name == "run":
            action.add_argument("--until", choices=[step.value for step in STEPS], metavar="STEP",
                                help="stop after this step: " + ", ".join(STEPS))
            action.add_argument("--changed-by-hand", action="store_true",
                                help="the records the pending step printed are changed (DNS by hand)")
        action.set_defaults(handler=_HANDLERS[name])


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", type=Path, help="the customer's inventory")
    parser.add_argument("--from", dest="accounts", required=True, type=Path, metavar="ACCOUNTS",
                        help="the provider's accounts file (.csv or .yaml: source, target, password_file, "
                             "target_password_file)")
    parser.add_argument("--direction", choices=[item.value for item in Direction],
                        default=Direction.TO_SERVER.value,
                        help="to-server: from the provider to DIR's server (default); to-provider: back")
    dns_options = parser.add_argument_group("DNS (without --dns-server the records are printed to change "
                                            "by hand)")
    dns_options.add_argument("--dns-server", metavar="HOST", help="the zones' primary, for RFC 2136 updates")
    dns_options.add_argument("--dns-port", type=int, default=53, metavar="PORT", help="default: %(default)s")
    dns_options.add_argument("--tsig-key", type=Path, metavar="FILE",
                             help='a key file: key "NAME" { algorithm hmac-sha256; secret "BASE64"; };')
    dns_options.add_argument("--zone", action="append", default=[], metavar="ZONE",
                             help="the zone holding a domain's records when it is not the domain; repeat")
    dns_options.add_argument("--provider-mx", action="append", default=[], metavar="'PREF HOST'",
                             help="to-provider: the provider's MX record (repeatable)")
    dns_options.add_argument("--provider-spf", metavar="TEXT", help="to-provider: the provider's SPF record")
    dns_options.add_argument("--provider-autoconfig", metavar="HOST",
                             help="to-provider: where autoconfig.DOMAIN points (default: removed)")
    knobs = parser.add_argument_group("timing")
    knobs.add_argument("--short-ttl", type=arguments.count(minimum=1), default=Timing.short_ttl, metavar="S",
                       help="the TTL during the cutover (default %(default)s)")
    knobs.add_argument("--old-ttl", type=arguments.count(minimum=0), default=Timing.old_ttl, metavar="S",
                       help="DNS by hand: the TTL the records had, to wait out (default %(default)s)")
    knobs.add_argument("--little", type=arguments.count(minimum=0), default=Timing.little, metavar="N",
                       help="pre-sync ends with a pass copying at most N messages (default %(default)s)")
    knobs.add_argument("--quiet-passes", type=arguments.count(minimum=1), default=Timing.quiet_passes,
                       metavar="N", help="final delta: passes in a row finding nothing (default %(default)s)")
    knobs.add_argument("--pass-interval", type=arguments.seconds(maximum=DAY), default=Timing.pass_interval,
                       metavar="S", help="between final delta passes (default %(default)s)")
    knobs.add_argument("--max-passes", type=arguments.count(minimum=1), default=Timing.max_passes,
                       metavar="N", help="per step, before it gives up (default %(default)s)")
    mail = parser.add_argument_group("mail")
    mail.add_argument("--workers", type=arguments.count(minimum=1), default=4, metavar="N",
                      help="accounts moved at once (default 4)")
    mail.add_argument("--ca-file", type=Path, metavar="FILE", help="also trust this CA (PEM) for IMAP")
    mail.add_argument("--insecure", action="store_true", help="do not verify IMAP servers' certificates")
    mail.add_argument("--state", type=Path, metavar="FILE",
                      help=f"migrate's record of what it saw (default {default_path()})")
    mail.add_argument("--nameserver", action="append", default=[], metavar="IP[:PORT]",
                      help="the resolver `provision check` asks (default: the system's)")
    mail.add_argument("--check-skip", action="append", default=[], metavar="CHECK",
                      help="leave this check out of the preflight (repeatable)")


def _problems(args: argparse.Namespace) -> None:
    """Every problem with the command line, one line each, before anything is read from a server."""
    problems = []
    if not (args.dir / HOSTS_FILE).is_file():
        problems.append(f"{args.dir}: not an inventory directory (no {HOSTS_FILE})")
    if args.accounts.suffix.lower() not in (".csv", ".yaml", ".yml") or not args.accounts.is_file():
        problems.append(f"--from {args.accounts}: not an accounts file (.csv or .yaml)")
    if bool(args.dns_server) != bool(args.tsig_key):
        problems.append("--dns-server and --tsig-key go together")
    if args.ca_file and not args.ca_file.is_file():
        problems.append(f"--ca-file {args.ca_file}: no such file")
    provider = args.provider_mx or args.provider_spf or args.provider_autoconfig
    if args.direction == Direction.TO_PROVIDER and not (args.provider_mx and args.provider_spf):
        problems.append("--direction to-provider needs the provider's --provider-mx and --provider-spf")
    elif args.direction == Direction.TO_SERVER and provider:
        problems.append("--provider-mx, --provider-spf and --provider-autoconfig are for --direction "
                        "to-provider")
    for value in args.provider_mx:
        try:
            dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.MX, value)
        except (dns.exception.DNSException, ValueError):
            problems.append(f"--provider-mx {value!r}: not an MX record (PREFERENCE HOST)")
    if args.provider_autoconfig and not args.provider_autoconfig.strip(".").count("."):
        problems.append(f"--provider-autoconfig {args.provider_autoconfig}: not a host name")
    if problems:
        raise ProblemsError(f"nothing was done: {len(problems)} problem(s)", problems)


def _timing(args: argparse.Namespace) -> Timing:
    return Timing(args.short_ttl, args.little, args.quiet_passes, args.pass_interval, args.max_passes,
                  args.old_ttl)


def _normal(rdtype: str, value: str) -> str:
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), value).to_text()


def _new_records(args: argparse.Namespace, inventory: Inventory) -> list[Rrset]:
    """What the switch sets at every name a cutover changes; an empty RRset is removed there."""
    domains = inventory.settings.domains
    wanted = {key: Rrset(*key, TTL, []) for key in records.names(domains)}
    if args.direction == Direction.TO_SERVER:
        keys = vault.read(args.dir).get(DKIM_KEYS, {})
        for record in mail_records(inventory, keys).records:
            if record.purpose in (Purpose.MX, Purpose.SPF, Purpose.AUTOCONFIG):
                rrset = wanted[(record.name, record.type)]
                rrset.ttl = record.ttl
                rrset.values.append(_normal(record.type, zonefile.rdata(record)))
    else:
        for domain in domains:
            apex = absolute(domain)
            wanted[(apex, "MX")].values += [_normal("MX", value) for value in args.provider_mx]
            wanted[(apex, "TXT")].values.append(_normal("TXT", zonefile.txt(args.provider_spf)))
            if args.provider_autoconfig:
                wanted[(f"autoconfig.{apex}", "CNAME")].values.append(absolute(args.provider_autoconfig))
    return list(wanted.values())


def _dns(args: argparse.Namespace, domains: tuple[str, ...]) -> Dns:
    zones = tuple(absolute(zone) for zone in args.zone)
    zones += tuple(absolute(domain) for domain in domains if not any(is_within(domain, z) for z in zones))
    if not args.dns_server:
        return Dns(None, zones)
    key = update.read_key(args.tsig_key)
    return Dns(update.Server(update.address_of(args.dns_server, "--dns-server"), args.dns_port, key), zones)


def _cutting(args: argparse.Namespace, console: Console, *, live: bool, ended: bool = False) -> Cutting:
    _problems(args)
    inventory = load(args.dir)
    read_accounts(args.accounts)  # a bad accounts file is refused before anything is begun
    cutover = states.begun(args.dir, Direction(args.direction), args.accounts, ended=ended)
    sides = Sides(args.accounts, args.dir, Tls(str(args.ca_file) if args.ca_file else None, args.insecure),
                  args.state or default_path(), args.workers)
    check_target = None
    if live and args.direction == Direction.TO_SERVER:
        from provision.check.runner import Selection  # the checks cost their import only here
        from provision.commands.check import inventory_target
        Selection((), tuple(args.check_skip)).validate()
        check_target = inventory_target(args.dir)
    from provision.check.model import Options
    from provision.commands.check import nameserver
    options = Options(nameservers=tuple(nameserver(text) for text in args.nameserver))
    domains = inventory.settings.domains
    return Cutting(args.dir, cutover, sides, _dns(args, domains), domains, _new_records(args, inventory),
                   _timing(args), console, check_target, options, tuple(args.check_skip),
                   getattr(args, "changed_by_hand", False))


def _rows(cutover: Cutover, cut: Cutting) -> list[dict[str, object]]:
    following = cutover.next_step()
    rows = []
    for step in STEPS:
        done = cutover.done.get(step.value)
        status = "done" if done else "rolled back" if cutover.rolled_back else (
            "next" if step is following else "pending")
        rows.append({"step": step.value, "status": status, "finished": done.finished if done else None,
                     "what": done.summary if done else cut.describe(step)})
    return rows


def _steps_text(rows: list[dict[str, object]]) -> str:
    return table(rows, [("step", "step"), ("status", "status"), ("finished", "finished"), ("what", "what")])


def _plan(args: argparse.Namespace, console: Console) -> int:
    cut = _cutting(args, console, live=False)
    rows = _rows(cut.cutover, cut)
    switch = records.with_ttl(cut.new, cut.timing.short_ttl)
    dns_way = (f"RFC 2136 at {args.dns_server}:{args.dns_port}" if cut.dns.server else
               "by hand: each DNS step prints its records and waits for --changed-by-hand")
    wait = cut.cutover.old_ttl if cut.cutover.old is not None else (None if cut.dns.server else args.old_ttl)
    data = {"state_file": str(states.path_in(args.dir)), "direction": cut.cutover.direction.value,
            "steps": rows, "dns": dns_way, "switch_records": [vars(rrset) for rrset in switch],
            "old_ttl_wait_seconds": wait, "timing": vars(cut.timing)}
    lines = [f"cutover {cut.cutover.direction} of {args.dir} --from {args.accounts}; state in "
             f"{states.path_in(args.dir)}", "", _steps_text(rows), "", f"DNS: {dns_way}",
             "at the switch the records become:", *(f"  {line}" for line in records.zone_lines(switch)),
             "", "the wait for the old TTL: " + (f"{wait} s" if wait is not None else
                                                   "read from the DNS at preflight")]
    console.result(data, "\n".join(lines))
    return ExitStatus.OK


def _run(args: argparse.Namespace, console: Console) -> int:
    cut = _cutting(args, console, live=True)
    until = Step(args.until) if args.until else None
    if until is not None and cut.cutover.is_done(until):
        console.result({"ran": [], "steps": _rows(cut.cutover, cut)}, f"{until} is done already")
        return ExitStatus.OK
    ran = cut.run(until)
    rows = _rows(cut.cutover, cut)
    following = cut.cutover.next_step()
    end = "the cutover is complete" if following is None else f"stopped before {following}"
    console.result({"ran": [step.value for step in ran], "steps": rows, "complete": following is None},
                   _steps_text(rows) + f"\n{end}")
    return ExitStatus.OK


def _status(args: argparse.Namespace, console: Console) -> int:
    cut = _cutting(args, console, live=False, ended=True)
    rows = _rows(cut.cutover, cut)
    passes = [vars(found) for found in cut.cutover.passes]
    text = [_steps_text(rows)]
    if passes:
        text += ["", table(passes, [("step", "pass of"), ("started", "started"), ("seconds", "seconds"),
                                    ("copied", "copied"), ("missing", "missing")])]
    if cut.cutover.rolled_back:
        text.append(f"rolled back at {cut.cutover.rolled_back}")
    console.result({"state_file": str(states.path_in(args.dir)), "direction": cut.cutover.direction.value,
                    "steps": rows, "passes": passes, "rolled_back": cut.cutover.rolled_back}, "\n".join(text))
    return ExitStatus.OK


def _rollback(args: argparse.Namespace, console: Console) -> int:
    cut = _cutting(args, console, live=False)
    said, arrived = rollback(cut)
    users = [] if arrived is None else [
        {"user": user.user, "at": user.target, "arrived": user.total("copied"), "error": user.error,
         "folders": {folder.folder: folder.copied for folder in user.folders if folder.copied}}
        for user in arrived.users]
    text = [f"rolled back: {said}"]
    if arrived is not None:
        total = sum(int(user["arrived"]) for user in users)  # type: ignore[call-overload]
        text += [f"{total} messages arrived at the new side meanwhile and are not at the old one:",
                 table(users, [("user", "user"), ("arrived", "arrived"), ("error", "error")])]
    console.result({"rolled_back": cut.cutover.rolled_back, "dns": said, "arrived": users}, "\n".join(text))
    return ExitStatus.OK


_HANDLERS = {"plan": _plan, "run": _run, "status": _status, "rollback": _rollback}
