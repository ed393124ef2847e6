"""An inventory as TARGET: its domains, its server's addresses and HELO name, its DKIM keys."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from provision.inventory import vault
from provision.inventory.secrets import DKIM_KEYS, dkim_record
from tests.check import zones
from tests.check.conftest import Run
from tests.dnsserver import AuthoritativeServer, txt

IPV4, IPV6 = "192.0.2.30", "2001:db8::30"
IPV6_REVERSE = "0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."


@pytest.fixture(scope="module")
def customer(tmp_path_factory: pytest.TempPathFactory, dns_server: AuthoritativeServer) -> Iterator[Path]:
    """An inventory for inv.test made by `provision init`, its records served as it says."""
    base = tmp_path_factory.mktemp("inventory")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROVISION_VAULT_PASSWORD_FILE", str(base / "vault.password"))
        done = subprocess.run([sys.executable, "-m", "provision", "init", str(base / "acme"),
                               "--domain", "inv.test", "--hostname", "mail.inv.test", "--host", IPV4,
                               "--public-ipv6", IPV6], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        _serve(dns_server, vault.read(base / "acme")[DKIM_KEYS]["inv.test"])
        yield base / "acme"


def _serve(dns_server: AuthoritativeServer, key: str) -> None:
    served = zones.zones()
    served["inv.test"] = [
        *zones.healthy("inv.test", mx="inv.test. MX 10 mail.inv.test.",
                       spf=zones.spf("inv.test", f"v=spf1 ip4:{IPV4} ip6:{IPV6} -all"),
                       dkim=f"mail._domainkey.inv.test. TXT {txt([dkim_record(key)])}"),
        f"mail.inv.test. A {IPV4}", f"mail.inv.test. AAAA {IPV6}", 'inv.test. CAA 0 issue "letsencrypt.org"']
    served["2.0.192.in-addr.arpa"].append("30.2.0.192.in-addr.arpa. PTR mail.inv.test.")
    served["8.b.d.0.1.0.0.2.ip6.arpa"] = [f"{IPV6_REVERSE} PTR mail.inv.test."]
    dns_server.load(served, unanswered=zones.SILENT, failing=zones.FAILING)


def test_an_inventory_is_checked_with_its_own_settings(cli: Callable[..., Run], customer: Path) -> None:
    # Its server does not exist: only the DNS area is checked here, without the key on the server.
    done = cli("--json", str(customer), "--skip", "dns.mta_sts,dns.dkim.server,services,host")
    checks = json.loads(done.out)["targets"][0]["checks"]
    assert [check for check in checks if check["status"] != "OK"] == []
    assert done.status == 0
    by_id = {check["id"]: check["message"] for check in checks}
    assert "inventory's signing key" in by_id["dns.dkim.matches"]
    assert "letsencrypt.org" in by_id["dns.caa.issuer"]
    helo = [check["message"] for check in checks if check["id"] == "dns.ptr.helo"]
    assert helo == [f"{address}: PTR matches the HELO name mail.inv.test" for address in (IPV4, IPV6)]


def test_an_inventorys_report_names_its_domain_not_its_path(cli: Callable[..., Run], customer: Path,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    cli(str(customer), "--report", str(path), "--skip", "dns.mta_sts,dns.dkim.server,services,host")
    written = path.read_text()
    assert written.startswith("# Mail check: inv.test\n")
    assert "checks passed: mail for inv.test is set up as it should be" in written
    assert str(customer) not in written
