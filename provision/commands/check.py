"""`provision check TARGET...`: check the DNS, the services and the host of customers' mail servers."""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import re
import ssl
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import idna

from provision import files, remote
from provision.check import customer, report, runner
from provision.check.dns import parse_tags
from provision.check.model import Options, Target
from provision.commands import arguments
from provision.console import Console
from provision.dns.query import domain_name
from provision.errors import ProvisionError, UsageError
from provision.inventory import HOSTS_FILE, vault
from provision.inventory.load import load
from provision.inventory.model import TlsMode
from provision.inventory.secrets import DKIM_KEYS, dkim_record

# The exporters role's exporters_textfile_dir, unless the inventory sets it; the file provision writes there.
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
PUSHED_FILE = "provision_check.prom"
# A check waits for up to 12 times this; a longer wait is no check but a hang.
MAX_TIMEOUT = 300
REPORT_FORMATS = {".html": customer.html_page, ".htm": customer.html_page, ".md": customer.markdown}


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    defaults = Options()
    parser = commands.add_parser(
        "check", parents=[common], help="check a mail setup: DNS, the services from outside, the host",
        description="Check mail domains and their servers. dns: MX, SPF, DKIM (for inventories also "
                    "against the server's signing key, over SSH), DMARC, MTA-STS, TLS-RPT, reverse DNS, CAA, "
                    "DNSSEC and DANE (TLSA against the served certificate), DNS block lists. "
                    "services, from outside: SMTP, "
                    "STARTTLS, certificates, TLS versions, open relay, AUTH only after TLS, IMAPS, CalDAV, "
                    "LDAP. host, over SSH (inventories only): services, disk, queue, updates, reboot, "
                    "certificate files, drift from what apply renders (the render is cached until the "
                    "inventory, playbooks or templates change). Each TARGET is an inventory "
                    "directory (all its domains, its server's addresses and keys) or a domain. "
                    "Exit status: 0 all OK, 1 any WARN, "
                    "CRIT or UNKNOWN, 2 bad usage; with --nagios 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN; with "
                    "--prometheus 0 (the statuses are in the metrics).",
    )
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="inventory directory or domain")
    parser.add_argument("--only", action="append", default=[], metavar="CHECKS",
                        help="run only these areas (dns, services, host) or checks (dns.spf, dns.spf.pass), "
                             "comma-separated")
    parser.add_argument("--skip", action="append", default=[], metavar="CHECKS",
                        help="leave out these areas or checks, comma-separated")
    parser.add_argument("--nameserver", action="append", default=[], metavar="IP[:PORT]",
                        help="ask this DNS server (repeatable; default: the system's resolvers)")
    parser.add_argument("--ip", action="append", default=[], metavar="ADDRESS",
                        help="a sending address of domain TARGETs (default: their MX hosts' addresses)")
    parser.add_argument("--dkim-selector", metavar="NAME",
                        help="DKIM selector of domain TARGETs (default: try the common ones and those of "
                             "--message; UNKNOWN when none has a key)")
    parser.add_argument("--message", type=Path, metavar="FILE",
                        help="a message received from a domain TARGET: the selectors of its DKIM-Signature "
                             "headers are tried")
    parser.add_argument("--dnsbl", default=",".join(defaults.dnsbl), metavar="ZONES",
                        help="address block lists, comma-separated, '' for none (default: %(default)s)")
    parser.add_argument("--domain-dnsbl", default=",".join(defaults.domain_dnsbl), metavar="ZONES",
                        help="domain block lists, comma-separated, '' for none (default: %(default)s)")
    parser.add_argument("--ca", metavar="DOMAIN",
                        help="CAA issuer domain of the CA in use (default: from the inventory's TLS mode)")
    parser.add_argument("--ca-file", type=Path, metavar="FILE",
                        help="also trust these CA certificates (MTA-STS policies, the services' TLS)")
    parser.add_argument("--timeout", type=arguments.seconds(maximum=MAX_TIMEOUT), default=defaults.timeout,
                        metavar="SECONDS", help="per DNS query, connection or command "
                                                f"(default: %(default)s, at most {MAX_TIMEOUT})")
    parser.add_argument("--report", type=Path, metavar="FILE",
                        help="also write a report for the customer: FILE.html (prints to PDF) or FILE.md")
    parser.add_argument("--language", choices=customer.LANGUAGES, default="en",
                        help="language of the customer's report (default: %(default)s)")
    parser.add_argument("--nagios", action="store_true",
                        help="print one Nagios/Icinga/Checkmk status line; exit 0/1/2/3")
    parser.add_argument("--prometheus", action="store_true",
                        help="print Prometheus metrics (text exposition format): provision_check_status"
                             "{customer,area,check} 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN; provision_check_finding"
                             "{customer,check,status,message,fix} for each check that is not OK")
    parser.add_argument("--push", action="store_true",
                        help="with --prometheus: write each inventory's metrics to its server instead, "
                             "over SSH, for node-exporter's textfile collector (the exporters role); run it "
                             "from a timer: provision_check_timestamp_seconds tells how old they are")
    parser.set_defaults(handler=_check)


def _check(args: argparse.Namespace, console: Console) -> int:
    selection = runner.Selection(_list(args.only), _list(args.skip))
    selection.validate()
    if sum((args.nagios, args.prometheus, console.json)) > 1:
        raise UsageError("give only one of --json, --nagios and --prometheus")
    if args.push and not args.prometheus:
        raise UsageError("--push sends the metrics of --prometheus: give both")
    if args.push and (domains := [text for text in args.targets if not (Path(text) / HOSTS_FILE).is_file()]):
        raise UsageError(f"--push: {', '.join(domains)} has no server to push to: give inventory directories")
    _check_files(args)
    options = Options(nameservers=tuple(nameserver(text) for text in args.nameserver), timeout=args.timeout,
                      check_timeout=max(Options.check_timeout, 12 * args.timeout),
                      dnsbl=tuple(_list([args.dnsbl])), domain_dnsbl=tuple(_list([args.domain_dnsbl])),
                      ca_file=args.ca_file)
    addresses = tuple(_address(text) for text in args.ip)
    signed = _signing_selectors(args.message) if args.message else {}
    with ThreadPoolExecutor(max_workers=8) as pool:  # each inventory's vault is decrypted by a child process
        targets = list(pool.map(lambda text: _target(text, args, addresses, signed), args.targets))
    console.detail(f"checking {len(targets)} target(s)")
    with files.Output(args.report, secret=False, replace=True) if args.report else nullcontext() as out:
        checked_at = datetime.datetime.now(datetime.UTC)
        reports = runner.run(targets, options, selection)
        if out is not None:
            out.write(REPORT_FORMATS[args.report.suffix.lower()](reports, args.language, checked_at))
            console.info(f"report written to {args.report}")
    if args.push:
        return _push(targets, reports, checked_at.timestamp(), console)
    if args.prometheus:
        console.out.write(report.prometheus(reports, checked_at.timestamp()))
        return 0
    if args.nagios:
        line, code = report.nagios(reports)
        console.out.write(line + "\n")
        return code
    console.result(report.as_json(reports), report.text(reports))
    return report.exit_status(reports)


def _push(targets: list[Target], reports: list[runner.TargetReport], checked_at: float,
          console: Console) -> int:
    """Each inventory's metrics into its server's textfile directory, replaced in one rename."""
    failed = 0
    for target, result in zip(targets, reports, strict=True):
        assert target.inventory is not None  # --push takes inventories only
        directory = target.inventory.role_vars.get("exporters_textfile_dir", TEXTFILE_DIR)
        file = f"{directory}/{PUSHED_FILE}"
        script = ('test -d "$1" || { echo "no directory $1: enable the exporters role" >&2; exit 1; }; '
                  'cat > "$2.tmp" && chmod 644 "$2.tmp" && mv "$2.tmp" "$2"')
        try:
            with remote.connect(remote.login_of(target.inventory)) as connection:
                connection.run(["sh", "-c", script, "sh", directory, file],
                               stdin=report.prometheus([result], checked_at).encode())
        except ProvisionError as error:
            console.warn(f"{target.name}: {error}")
            failed += 1
            continue
        console.info(f"{target.name}: metrics written to {file} on {target.inventory.host.address}")
    return 1 if failed else 0


def _check_files(args: argparse.Namespace) -> None:
    """Refuse before any check runs what would fail at the end: the report's name, the CA file."""
    if args.report and args.report.suffix.lower() not in REPORT_FORMATS:
        raise UsageError(f"{args.report}: the report must end in .html or .md")
    if args.report and not args.report.parent.is_dir():
        raise UsageError(f"{args.report}: the directory {args.report.parent} does not exist")
    if args.ca_file:
        try:
            ssl.create_default_context(cafile=str(args.ca_file))
        except (OSError, ssl.SSLError) as error:
            raise UsageError(f"--ca-file {args.ca_file}: not readable PEM certificates ({error})") from None


def _list(values: list[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def nameserver(text: str) -> tuple[str, int]:
    """A --nameserver value: IP, IP:PORT or [IPv6]:PORT."""
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise UsageError(f"--nameserver {text}: give IP or IP:PORT ([IPv6]:PORT)") from None
    if not 0 < number < 65536:
        raise UsageError(f"--nameserver {text}: port out of range")
    return host, number


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(f"--ip {text}: not an IP address") from None


def _signing_selectors(path: Path) -> dict[str, tuple[str, ...]]:
    """domain -> the selectors (s=) of the message's DKIM-Signature headers that name it (d=)."""
    try:
        with path.open("rb") as file:
            message = BytesHeaderParser(policy=compat32).parse(file)
    except OSError as error:
        raise UsageError(f"--message {path}: {error.strerror}") from None
    found: dict[str, tuple[str, ...]] = {}
    for header in message.get_all("DKIM-Signature", []):
        tags = dict(parse_tags(re.sub(r"\s+", " ", str(header)))[0])
        domain, selector = tags.get("d", "").lower().rstrip("."), tags.get("s", "")
        if domain and selector:
            found[domain] = (*found.get(domain, ()), selector)
    return found


def _target(text: str, args: argparse.Namespace, addresses: tuple,
            signed: dict[str, tuple[str, ...]]) -> Target:
    path = Path(text)
    if (path / HOSTS_FILE).is_file():
        return inventory_target(path, args.ca)
    if path.exists() or "/" in text:
        raise UsageError(f"{text}: not an inventory directory (no {HOSTS_FILE})")
    try:
        domain = idna.encode(text.removesuffix("."), uts46=True).decode()
    except idna.IDNAError:
        domain = ""
    if "." not in domain or domain_name(domain) is None:
        raise UsageError(f"{text}: neither an inventory directory nor a domain name")
    return Target(domain, (domain,), addresses, dkim_selector=args.dkim_selector,
                  dkim_candidates=signed.get(domain, ()), ca=args.ca)


def inventory_target(path: Path, ca: str | None = None) -> Target:
    """An inventory as a check target: its domains, its server's addresses, names and keys."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        secrets = pool.submit(vault.read, path)
        inventory = load(path)
        keys = secrets.result().get(DKIM_KEYS, {})
    settings = inventory.settings
    addresses = (settings.public_ipv4, *([settings.public_ipv6] if settings.public_ipv6 else []))
    if ca is None and settings.tls_mode is TlsMode.SELF_SIGNED:
        ca = ""
    acme = settings.acme_directory if settings.tls_mode is TlsMode.ACME else None
    return Target(str(path), settings.domains, addresses, helo=settings.hostname,
                  dkim_selector=settings.dkim_selector,
                  dkim_records={domain: dkim_record(keys[domain]) for domain in settings.domains},
                  ca=ca, acme_directory=acme, acme_ca_file=settings.acme_ca_file, inventory=inventory)
