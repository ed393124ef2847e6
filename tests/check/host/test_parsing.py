"""The host area's parsers, on output captured from a provisioned Debian 13 server."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provision import remote
from provision.check.host import drift, facts, memory
from provision.check.host.facts import Queued, Section, Usage
from provision.check.host.ssh import Server
from provision.check.model import Status
from provision.inventory.model import FirstAdmin, Host, Inventory, Settings, TlsMode

UNITS = ("nftables", "slapd", "opendkim", "postfix", "dovecot")
EXPIRY = datetime.datetime(2029, 2, 25, 4, 49, 39, tzinfo=datetime.UTC)


def _certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(EXPIRY - datetime.timedelta(days=800))
                   .not_valid_after(EXPIRY).sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


CAPTURED = f"""### now
1795409508
### exit 0
### services
active
active
inactive
active
active
### exit 3
### disk
Filesystem     1024-blocks     Used Available Capacity Mounted on
overlay          264212084 24768812  81622100      24% /
/dev/vdb1         10255636  8750000   1005636      90% /var
### exit 0
### inodes
Filesystem       Inodes  IUsed    IFree IUse% Mounted on
overlay        16777216 458803 16318413    3% /
/dev/vdb1             0      0        0     - /var
### exit 0
### queue
{{"queue_name": "deferred", "queue_id": "23FA71FA323", "arrival_time": 1795409769, "message_size": 311, \
"forced_expire": false, "sender": "root@hdev.example.test", "recipients": [{{"address": \
"nobody@unroutable.invalid", "delay_reason": "Host or domain name not found. Name service error for \
name=unroutable.invalid type=MX: Host not found, try again"}}]}}
{{"queue_name": "active", "queue_id": "45A081FA339", "arrival_time": 1795409770, "message_size": 311, \
"forced_expire": false, "sender": "root@hdev.example.test", "recipients": [{{"address": "a@example.org"}}]}}
### exit 0
### updates
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  apt tzdata zlib1g
3 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
Inst zlib1g [1:1.3.1-1+b1] (1:1.3.1-1+deb13u1 Debian-Security:13/stable-security [amd64])
Conf zlib1g (1:1.3.dfsg+really1.3.1-1+deb13u1 Debian-Security:13/stable-security [amd64])
Inst apt [3.0.3] (3.0.4 Debian-Security:13/stable-security [amd64])
Conf apt (3.0.4 Debian-Security:13/stable-security [amd64])
Inst tzdata [2026c-0+deb13u1] (2026f-0+deb13u1 Debian:13-updates/stable-updates [all])
Conf tzdata (2026f-0+deb13u1 Debian:13-updates/stable-updates [all])
### exit 0
### reboot
### exit 0
### certificate
{_certificate()}### exit 0
### memory
MemTotal:        2030396 kB
MemFree:          112640 kB
### exit 0
"""


def test_captured_output_becomes_facts() -> None:
    found = facts.parse(CAPTURED, UNITS)
    assert found.now == 1795409508
    assert found.services == {"nftables": "active", "slapd": "active", "opendkim": "inactive",
                              "postfix": "active", "dovecot": "active"}
    assert found.disk == (Usage("/", 24), Usage("/var", 90))
    assert found.inodes == (Usage("/", 3), Usage("/var", None))
    assert found.queue == (
        Queued("23FA71FA323", "deferred", 1795409769, "nobody@unroutable.invalid",
               "Host or domain name not found. Name service error for name=unroutable.invalid type=MX: "
               "Host not found, try again"),
        Queued("45A081FA339", "active", 1795409770, "a@example.org", ""))
    assert found.security_updates == ("zlib1g", "apt")
    assert found.reboot_required
    assert found.certificate_expiry == EXPIRY
    assert found.memory_kib == 2030396
    assert found.problems == {}


def test_a_script_cut_short_leaves_the_missing_facts_unknown() -> None:
    cut = CAPTURED[:CAPTURED.index("### queue")]
    found = facts.parse(cut, UNITS)
    assert found.disk == (Usage("/", 24), Usage("/var", 90))
    assert found.queue is None and found.security_updates is None and found.certificate_expiry is None
    assert found.problems["queue"] == "the gathering script stopped before this step"
    assert not found.reboot_required


def test_failed_commands_are_problems_not_facts() -> None:
    down = Section(("postqueue: fatal: Queue report unavailable - mail system is down",), 69)
    assert _error(facts.parse_queue, down).startswith("postqueue failed: postqueue: fatal")
    locked = Section(("E: Could not get lock /var/lib/dpkg/lock-frontend",), 100)
    assert "apt-get -s upgrade failed" in _error(facts.parse_security_updates, locked)
    assert "cannot be read" in _error(facts.parse_certificate, Section(("cat: No such file",), 1))
    assert "no PEM certificate" in _error(facts.parse_certificate, Section(("garbage",), 0))
    assert "df failed" in _error(facts.parse_df, Section(("Filesystem ...", "overlay 1 1 0 1% /"), 0))


def test_missing_service_states_are_unknown() -> None:
    assert facts.parse_services(Section(("active",), 1), ("postfix", "dovecot")) == {
        "postfix": "active", "dovecot": "unknown"}


def test_acme_inventories_also_need_the_web_server_and_renewal_timer() -> None:
    assert "certbot.timer" in facts.script(("postfix", "certbot.timer"))


def test_antivirus_adds_clamd_and_freshclam_to_the_services() -> None:
    settings = Settings(domains=("example.org",), hostname="mail.example.org",
                        public_ipv4=IPv4Address("198.51.100.9"), admin_email="admin@example.org",
                        first_admin=FirstAdmin("admin", "Admin", "admin@example.org"),
                        tls_mode=TlsMode.SELF_SIGNED)

    def of(settings: Settings) -> tuple[str, ...]:
        inventory = Inventory(Path("/c/gmbh"), Host("mail", "198.51.100.9"), settings)
        return facts.units(Server(inventory, remote.Login("198.51.100.9")))

    assert not {"clamav-daemon", "clamav-freshclam"} & set(of(settings))
    assert {"clamav-daemon", "clamav-freshclam"} <= set(of(dataclasses.replace(settings, antivirus=True)))


def test_antivirus_on_a_small_host_warns_with_a_fix() -> None:
    small, large = 2030396, 4 * 1024 * 1024  # KiB: a 2 GB and a 4 GiB server
    assert memory.judge(small, antivirus=False, directory="/c/gmbh").status is Status.OK
    assert memory.judge(large, antivirus=True, directory="/c/gmbh").status is Status.OK
    warned = memory.judge(small, antivirus=True, directory="/c/gmbh")
    assert warned.status is Status.WARN and "1.9 GiB" in warned.message and "1.5 GB" in warned.message
    assert "provision_antivirus: false" in warned.fix and "3 GiB" in warned.fix


def test_a_meminfo_without_memtotal_is_a_problem() -> None:
    assert "no MemTotal" in _error(facts.parse_memory, Section(("MemFree: 1 kB",), 0))


def test_drift_masks_only_the_secret_in_its_line() -> None:
    rendered = "server_host = ldap://127.0.0.1\nbind_pw = <vault_ldap_postfix_password>\nversion = 3\n"
    assert drift.matches(rendered, rendered.replace("<vault_ldap_postfix_password>", "s3cr:et pw"))
    assert not drift.matches(rendered, rendered.replace("<vault_ldap_postfix_password>", "a\nb"))
    assert not drift.matches(rendered, rendered.replace("version = 3", "version = 2").replace(
        "<vault_ldap_postfix_password>", "x"))
    assert not drift.matches(rendered, rendered + "# a hand edit\n")
    assert drift.matches("a.b\n", "a.b\n") and not drift.matches("a.b\n", "axb\n")


def _error(parser: Callable[[Section], object], section: Section) -> str:
    try:
        parser(section)
    except ValueError as error:
        return str(error)
    raise AssertionError(f"{parser.__name__} accepted {section}")
