"""Backups proven by a restore (issue 15), on a customer's server of its own and a backup host reached
over SSH: back up, survive kill -9, refuse a damaged archive, keep history from the server's root,
then destroy the server and rebuild it with a restore drill.

The tests run in file order on one provisioned server (module fixtures): each leaves the repository
as the next one expects, the drill last because it destroys the server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backup import populate
from tests.conftest import SandboxHost, provision, sandbox_name, start_sandbox, stop_sandbox
from tests.marks import starts

REPOSITORY = "/srv/borg"
PASSWORD = "Anna-Sagt-2026-Hallo"


@dataclass
class Customer:
    server: SandboxHost
    store: SandboxHost
    inventory: Path
    env: dict[str, str]
    person: populate.Person
    alive: bool = True

    def run(self, *args: str, timeout: float = 900):
        return provision(*args, env=self.env, timeout=timeout)

    def backup(self, *args: str):
        return self.run("--json", "backup", str(self.inventory), *args)

    def repository(self) -> str:
        return f"{REPOSITORY}/{self.server.hostname}"


@pytest.fixture(scope="module")
@starts("sandbox")
def customer(tmp_path_factory) -> Iterator[Customer]:
    """A provisioned server with a person, mail, events, tasks and contacts, and a backup host."""
    store = start_sandbox(sandbox_name("bkup"))
    server = start_sandbox(sandbox_name("bkml"))
    directory = tmp_path_factory.mktemp("backup") / "kanzlei"
    password_file = directory.parent / "vault.password"
    password_file.write_text("backup test vault password\n")
    env = {"PROVISION_VAULT_PASSWORD_FILE": str(password_file)}
    found = None
    try:
        init = provision("init", str(directory), "--domain", "example.test", "--hostname", server.hostname,
                         "--host", server.address, "--sandbox", env=env)
        assert init.returncode == 0, init.stderr
        with (directory / "group_vars/all/provision.yml").open("a") as settings:
            settings.write(f"backup_host: {store.address}\n")
        applied = provision("apply", str(directory), env=env)
        assert applied.returncode == 0, applied.stderr + applied.stdout
        person = populate.add_person(str(directory), env, "anna", "example.test", PASSWORD)
        populate.fill_mailbox(server.address, person, 12)
        populate.fill_collections(server.address, person)
        found = Customer(server, store, directory, env, person)
        setup = found.backup("init")
        assert setup.returncode == 0, setup.stderr
        yield found
    finally:
        if found is None or found.alive:
            stop_sandbox(server.name)
        stop_sandbox(store.name)


@pytest.fixture(scope="module")
def first_archive(customer: Customer) -> dict:
    done = customer.backup("now")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_backup_is_listed_checked_and_judged_recent(customer: Customer, first_archive: dict) -> None:
    assert first_archive["state"] == "ok"
    listed = customer.backup("list")
    assert listed.returncode == 0, listed.stderr
    assert first_archive["last_archive"] in [row["name"] for row in json.loads(listed.stdout)]
    checked = customer.backup("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["differences"] == []
    judged = customer.run("--json", "check", str(customer.inventory), "--only", "host.backup")
    found = {check["id"]: check for check in json.loads(judged.stdout)["targets"][0]["checks"]}
    assert found["host.backup.age"]["status"] == "OK", found
    assert found["host.backup.drill"]["status"] == "WARN"  # no drill yet


def test_the_key_export_hands_over_the_repository_key(customer: Customer, first_archive: dict,
                                                      tmp_path: Path) -> None:
    key = tmp_path / "key"
    done = customer.run("backup", str(customer.inventory), "key-export", "--output", str(key))
    assert done.returncode == 0, done.stderr
    assert key.read_text().startswith("BORG_KEY ")
    assert key.stat().st_mode & 0o777 == 0o600
    assert "no archive can be restored" in done.stdout


def test_a_second_backup_after_a_small_change_sends_only_the_change(customer: Customer,
                                                                    first_archive: dict) -> None:
    populate.fill_mailbox(customer.server.address, populate.Person("admin", "admin@example.test",
                                                                   _admin_password(customer)), 1)
    second = customer.backup("now")
    assert second.returncode == 0, second.stderr
    stats = json.loads(second.stdout)["stats"]
    assert stats["deduplicated_size"] < 64 * 1024 < stats["original_size"], stats


def test_a_backup_killed_mid_run_is_followed_by_one_that_succeeds(customer: Customer,
                                                                  first_archive: dict) -> None:
    # Enough new data that borg is still writing when it is killed.
    customer.server.ssh("head -c 150M /dev/urandom > /var/lib/provision/bulk")
    try:
        customer.server.ssh("systemctl start --no-block provision-backup.service")
        customer.server.ssh("for i in $(seq 600); do pgrep -f '[b]org create' && break; sleep 0.1; done; "
                            "sleep 1")
        customer.server.ssh("systemctl kill --signal=KILL provision-backup.service")
        state = customer.server.ssh("cat /var/lib/provision-backup/status.json").stdout
        assert json.loads(state)["state"] == "running"  # killed: nothing could write its end
        judged = customer.run("--json", "check", str(customer.inventory), "--only", "host.backup.age")
        # The last good backup is still recent.
        assert json.loads(judged.stdout)["targets"][0]["checks"][0]["status"] == "OK"
    finally:
        customer.server.ssh("rm -f /var/lib/provision/bulk")
    after = customer.backup("now")
    assert after.returncode == 0, after.stderr
    checked = customer.backup("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_failed_run_is_critical_with_its_last_line(customer: Customer, first_archive: dict) -> None:
    customer.server.ssh("chmod 000 /usr/sbin/slapcat")
    try:
        failed = customer.backup("now")
    finally:
        customer.server.ssh("chmod 755 /usr/sbin/slapcat")
    assert failed.returncode == 1
    judged = customer.run("--json", "check", str(customer.inventory), "--only", "host.backup.age")
    check = json.loads(judged.stdout)["targets"][0]["checks"][0]
    assert check["status"] == "CRIT" and "the last backup failed" in check["message"], check
    assert "slapcat" in check["message"]
    assert customer.backup("now").returncode == 0  # and the next one succeeds again


def test_a_damaged_repository_fails_the_check_and_the_restore_refuses(customer: Customer,
                                                                      first_archive: dict) -> None:
    repository = customer.repository()
    newest = json.loads(customer.backup("list").stdout)[-1]["name"]
    customer.store.ssh(f"cp -a {repository} {repository}.good")
    try:
        # Every segment of some size: the newest archive's data and metadata among them.
        customer.store.ssh(f"find {repository}/data -type f -size +8k -exec sh -c "
                           "'printf damaged!damaged! | dd of=\"$1\" bs=1 seek=4096 conv=notrunc' _ {} \\;")
        checked = customer.backup("check")
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["repository"] == "damaged"
        refused = customer.run("restore", str(customer.inventory), "--archive", newest,
                               "--to", str(customer.inventory))
        assert refused.returncode == 2 and "holds mail already" in refused.stderr  # a live server
        damaged = customer.run("restore", str(customer.inventory), "--archive", newest,
                               "--to", str(customer.inventory), "--force")
        assert damaged.returncode == 1 and "cannot be extracted" in damaged.stderr, damaged.stderr
    finally:
        customer.store.ssh(f"rm -rf {repository} && mv {repository}.good {repository}")
    assert customer.backup("check").returncode == 0


def test_the_servers_root_cannot_delete_or_rewrite_history(customer: Customer, first_archive: dict) -> None:
    before = _segments(customer)
    # As the intruder would: with the server's own key, borg, and a plain shell command.
    borg = ("BORG_PASSCOMMAND='cat /etc/provision/backup/passphrase' BORG_BASE_DIR=/var/lib/provision-backup "
            "BORG_RSH='ssh -i /root/.ssh/provision-backup -o BatchMode=yes' "
            f"borg delete ssh://borg@{customer.store.address}{customer.repository()}::"
            f"{first_archive['last_archive']}")
    customer.server.ssh(borg, check=False)
    shell = customer.server.ssh(f"ssh -i /root/.ssh/provision-backup -o BatchMode=yes "
                                f"borg@{customer.store.address} rm -rf {REPOSITORY}", check=False)
    assert shell.returncode != 0
    after = _segments(customer)
    assert {path: digest for path, digest in after.items() if path in before} == before
    assert customer.store.ssh(f"test -d {customer.repository()}/data").returncode == 0


@pytest.fixture(scope="module")
def drill(customer: Customer, first_archive: dict, tmp_path_factory) -> dict:
    """The server destroyed, then rebuilt from its newest archive by a restore drill."""
    stop_sandbox(customer.server.name)
    customer.alive = False
    report = tmp_path_factory.mktemp("drill") / "drill.md"
    started = time.monotonic()
    done = customer.run("--json", "restore-drill", str(customer.inventory), "--sandbox",
                        sandbox_name("drill"), "--report", str(report), timeout=1800)
    return {"done": done, "report": report, "seconds": time.monotonic() - started}


def test_the_drill_rebuilds_the_server_and_reports(customer: Customer, drill: dict) -> None:
    done = drill["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["differences"] == []
    steps = {step["name"].split(" ")[0]: step for step in result["steps"]}
    assert all(step["ok"] for step in result["steps"]), result["steps"]
    restored = next(step for step in result["steps"] if step["name"].startswith("restore "))
    assert "2 mailboxes, 13 messages" in restored["detail"]
    assert "logged in" in steps["IMAP"]["detail"] and "logged in" in steps["CalDAV"]["detail"]
    assert "PASSED" in drill["report"].read_text()
    left = provision("--json", "sandbox", "list")
    assert sandbox_name("drill") not in [box["name"] for box in json.loads(left.stdout)]
    # The inventory keeps the record host.backup.drill reads.
    record = json.loads((customer.inventory / "backup-drills.json").read_text())
    assert record[-1]["ok"] and record[-1]["archive"] == result["archive"]


def _admin_password(customer: Customer) -> str:
    done = customer.run("secret", str(customer.inventory), "vault_first_admin_password")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _segments(customer: Customer) -> dict[str, str]:
    listed = customer.store.ssh(f"cd {customer.repository()}/data && find . -type f -exec sha256sum {{}} +")
    return {path: digest for digest, path in (line.split() for line in listed.stdout.splitlines())}
