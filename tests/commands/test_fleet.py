"""provision apply FLEET: one ansible-playbook over a consultant's customers, on real sandboxes.

Customer a is the shared mail server's own inventory (so its run changes nothing there), b a fresh
sandbox, c a copy of b's inventory with a mistake in it. The consultant sets the message size limit,
which a overrides and b inherits.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import provision, sandbox_name, start_sandbox, stop_sandbox

SIZE_LINE = "provision_message_size_limit_mb: 50\n"
MARKER_HOOK = """\
- name: Leave the consultant's marker
  ansible.builtin.copy:
    content: "checked by the consultant\\n"
    dest: /root/consultant-marker
    mode: "0644"
"""


@pytest.fixture(scope="module")
def fleet(mail_server, tmp_path_factory) -> Iterator[tuple[Path, object]]:
    box = start_sandbox(sandbox_name("fb"))
    try:
        fleet = tmp_path_factory.mktemp("fleet")
        customers = fleet / "customers"
        shutil.copytree(mail_server.inventory, customers / "a")
        init = provision("init", str(customers / "b"), "--domain", "b.example.test", "--hostname",
                         box.hostname, "--host", box.address, "--sandbox", env=mail_server.env)
        assert init.returncode == 0, init.stderr
        settings = customers / "b/group_vars/all/provision.yml"
        settings.write_text(settings.read_text().replace(SIZE_LINE, ""))
        shutil.copytree(customers / "b", customers / "c")
        hosts = customers / "c/hosts.yml"
        hosts.write_text(hosts.read_text().replace("ansible_user: root", "ansible_user: Root"))
        (fleet / "consultant.yml").write_text("provision_message_size_limit_mb: 30\n")
        yield fleet, box
    finally:
        stop_sandbox(box.name)


def test_one_run_applies_every_good_customer_and_refuses_the_broken_one(fleet, mail_server):
    directory, box = fleet
    done = provision("--json", "apply", str(directory), "--forks", "4", env=mail_server.env)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    customers = result["customers"]
    assert result["failed"] == ["c"]
    assert customers["c"]["status"] == "refused"
    assert "c: " + str(directory / "customers/c/hosts.yml") in customers["c"]["failures"][0]
    assert customers["a"]["status"] == customers["b"]["status"] == "ok", customers
    assert customers["a"]["changed"] == 0, customers["a"]  # the shared server stays as it was
    assert customers["b"]["changed"] > 0
    # The consultant's limit on b, a's own on the shared server.
    assert box.ssh("postconf -h message_size_limit").stdout.strip() == str(30 * 1048576)
    assert mail_server.host.ssh("postconf -h message_size_limit").stdout.strip() == str(50 * 1048576)

    # The consultant's hook would run on every customer's server; --check runs it as a check.
    hook = directory / "hooks/post-web.d/marker.yml"
    hook.parent.mkdir(parents=True)
    hook.write_text(MARKER_HOOK)
    again = provision("apply", str(directory), "--customers", "a,b", "--check", "--diff", env=mail_server.env)
    assert again.returncode == 0, again.stderr + again.stdout
    rows = {line.split()[0]: line.split()[1:] for line in again.stdout.splitlines()[1:3]}
    for name in "ab":  # CUSTOMER STATUS OK CHANGED ...
        assert rows[name][0] == "ok" and rows[name][2] == "1", again.stdout
        assert f"{name}: Leave the consultant's marker" in again.stderr
    assert "2 customer(s) checked" in again.stdout
    for server in (box, mail_server.host):
        assert server.ssh("test -e /root/consultant-marker", check=False).returncode != 0
