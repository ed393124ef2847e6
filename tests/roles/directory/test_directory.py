"""The directory role (slapd) applied to a fresh sandbox, checked with a real LDAP client.

The playbook runs three times: a first run, a second that must change nothing, and a
--check --diff run that must neither fail nor find anything to change; then drift by hand
is repaired, and (last) the first administrator's own new password must survive further
runs, the vault's being only the initial one. The checks talk
to slapd from the host over the sandbox network (StartTLS on 389, ldaps on 636) with
ldap3, trusting the self-signed certificate the playbook made in place of the tls role.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ldap3 import BASE, SUBTREE, Connection, Server, Tls

from tests.conftest import REPO, SandboxHost, provision, sandbox_name, start_sandbox, stop_sandbox

SANDBOX = sandbox_name("dir")
INVENTORY = Path("/var/lib/provision/sandbox/inventory.yml")
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

BASE_DN = "dc=example,dc=test"
PEOPLE = f"ou=people,{BASE_DN}"
ALICE = f"uid=alice,{PEOPLE}"
BOB = f"uid=bob,{PEOPLE}"
POSTFIX = f"cn=postfix,ou=services,{BASE_DN}"
DOVECOT = f"cn=dovecot,ou=services,{BASE_DN}"
ROOT_DN = f"cn=admin,{BASE_DN}"
PASSWORDS = {
    "root": "root-Secret 1",
    "postfix": "postfix-Secret 2",
    "dovecot": "dovecot-Secret 3",
    "alice": "alice-Secret 4",
    "bob": "bob-Secret 5",
}

GROUP_VARS = f"""\
provision_domains: [example.test, example.org]
provision_organization: Example Ltd
provision_first_admin:
  uid: alice
  name: Alice Admin
  email: alice@example.test
  aliases: [postmaster@example.test, alice@example.org]
# The checks connect from the host: slapd listens on every address, not only on loopback.
directory_listeners: ["ldap:///", "ldaps:///", "ldapi:///"]
vault_ldap_admin_password: "{PASSWORDS['root']}"
vault_ldap_postfix_password: "{PASSWORDS['postfix']}"
vault_ldap_dovecot_password: "{PASSWORDS['dovecot']}"
vault_first_admin_password: "{PASSWORDS['alice']}"
"""

# The tls role is not part of this test: a self-signed certificate stands in for it.
PLAYBOOK = """\
- name: The directory role on a sandbox
  hosts: sandboxes
  gather_facts: false
  pre_tasks:
    - name: Install openssl and ssl-cert
      ansible.builtin.apt:
        name: [openssl, ssl-cert]
        update_cache: true
        cache_valid_time: 3600
    - name: Create the certificate directory
      ansible.builtin.file:
        path: /etc/ssl/provision
        state: directory
        mode: "0755"
    - name: Make a self-signed certificate in place of the tls role
      ansible.builtin.command:
        cmd: >-
          openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30
          -subj /CN={{ sandbox_hostname }}
          -addext subjectAltName=DNS:{{ sandbox_hostname }},IP:{{ ansible_host }}
          -keyout /etc/ssl/provision/privkey.pem -out /etc/ssl/provision/fullchain.pem
        creates: /etc/ssl/provision/fullchain.pem
    - name: Give the key to the ssl-cert group
      ansible.builtin.file:
        path: /etc/ssl/provision/privkey.pem
        owner: root
        group: ssl-cert
        mode: "0640"
    - name: Fetch the certificate for the client
      ansible.builtin.fetch:
        src: /etc/ssl/provision/fullchain.pem
        dest: "{{ directory_test_ca }}"
        flat: true
  roles:
    - role: directory
"""


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    def recap(self, host: str) -> dict[str, int]:
        match = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", self.output, re.MULTILINE)
        assert match, f"no PLAY RECAP line for {host}:\n{self.output[-3000:]}"
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


@dataclass
class Directory:
    host: SandboxHost
    ca_file: Path
    runs: dict[str, Run]
    workdir: Path

    def server(self, ldaps: bool = False) -> Server:
        tls = Tls(ca_certs_file=str(self.ca_file), validate=ssl.CERT_REQUIRED)
        return Server(self.host.address, port=636 if ldaps else 389, use_ssl=ldaps, tls=tls,
                      connect_timeout=30)

    def connect(self, user: str | None = None, password: str | None = None, *,
                ldaps: bool = False, starttls: bool = True) -> Connection:
        """An open connection, bound as user (anonymous if None); fails the test if the bind fails."""
        conn = self.try_bind(user, password, ldaps=ldaps, starttls=starttls)
        assert conn.bound, f"bind as {user} failed: {conn.result}"
        return conn

    def try_bind(self, user: str | None, password: str | None, *, ldaps: bool = False,
                 starttls: bool = True) -> Connection:
        conn = Connection(self.server(ldaps), user=user, password=password, receive_timeout=30)
        conn.open()
        if starttls and not ldaps:
            assert conn.start_tls(), f"StartTLS failed: {conn.result}"
        conn.bind()
        return conn

    def root_ldif(self, *args: str, stdin: str | None = None) -> str:
        """Run an LDAP tool as root over ldapi:/// (SASL EXTERNAL) on the sandbox."""
        done = provision("sandbox", "ssh", self.host.name, "--", *args,
                         "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///", input=stdin, timeout=120)
        assert done.returncode == 0, f"{args} failed: {done.stderr}"
        return done.stdout


def _playbook(workdir: Path, *extra: str) -> Run:
    env = dict(os.environ,
               ANSIBLE_CONFIG=str(REPO / "playbooks" / "ansible.cfg"),
               ANSIBLE_ROLES_PATH=str(REPO / "playbooks" / "roles"),
               ANSIBLE_PIPELINING="1",
               ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    argv = [str(ANSIBLE_PLAYBOOK), "-i", str(INVENTORY), "-i", str(workdir / "inventory"),
            "--limit", SANDBOX, "-e", f"directory_test_ca={workdir / 'ca.pem'}",
            str(workdir / "playbook.yml"), *extra]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    return Run(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def _add_bob(directory: Directory) -> None:
    """A second person, made by hand as the user tools will, to test what others may see."""
    hashed = provision("sandbox", "ssh", SANDBOX, "--", "slappasswd", "-n", "-o",
                       "module-load=argon2", "-h", "{ARGON2}", "-T", "/dev/stdin",
                       input=PASSWORDS["bob"]).stdout.strip()
    assert hashed.startswith("{ARGON2}"), hashed
    directory.root_ldif("ldapadd", stdin=textwrap.dedent(f"""\
        dn: {BOB}
        objectClass: inetOrgPerson
        objectClass: inetLocalMailRecipient
        uid: bob
        cn: Bob Builder
        sn: Builder
        mail: bob@example.test
        mailLocalAddress: sales@example.test
        userPassword: {hashed}
        """))


def _drift(directory: Directory) -> None:
    """Undo part of the role by hand: an open ACL, a lost address, another service password."""
    stolen = provision("sandbox", "ssh", SANDBOX, "--", "slappasswd", "-n", "-s", "not-the-vault-one")
    directory.root_ldif("ldapmodify", stdin=textwrap.dedent(f"""\
        dn: {ALICE}
        changetype: modify
        delete: mailLocalAddress
        mailLocalAddress: alice@example.org

        dn: {POSTFIX}
        changetype: modify
        replace: userPassword
        userPassword: {stolen.stdout.strip()}

        dn: olcDatabase={{1}}mdb,cn=config
        changetype: modify
        replace: olcAccess
        olcAccess: to * by * read
        """))


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    workdir = tmp_path_factory.mktemp("directory")
    (workdir / "inventory" / "group_vars").mkdir(parents=True)
    (workdir / "inventory" / "hosts.yml").write_text("all: {}\n")
    (workdir / "inventory" / "group_vars" / "sandboxes.yml").write_text(GROUP_VARS)
    (workdir / "playbook.yml").write_text(PLAYBOOK)
    # The values the roles share (the base DN, the certificate's path), as beside site.yml.
    (workdir / "group_vars").symlink_to(REPO / "playbooks" / "group_vars")
    host = start_sandbox(SANDBOX)
    try:
        runs = {"first": _playbook(workdir)}
        assert runs["first"].returncode == 0, runs["first"].output[-6000:]
        directory = Directory(host, workdir / "ca.pem", runs, workdir)
        _add_bob(directory)
        runs["second"] = _playbook(workdir)
        runs["check"] = _playbook(workdir, "--check", "--diff")
        _drift(directory)
        runs["repair"] = _playbook(workdir, "--diff")
        assert runs["repair"].returncode == 0, runs["repair"].output[-6000:]
        print("\nplaybook runs: " + ", ".join(f"{name} {run.seconds:.1f}s" for name, run in runs.items()))
        yield directory
    finally:
        try:
            stop_sandbox(SANDBOX)
        except AssertionError:
            # `sandbox down` can lose a race with the veth's own removal ("Cannot find
            # device pv-..."), leaving the sandbox stopped but listed; a second one finishes.
            time.sleep(2)
            stop_sandbox(SANDBOX)


def _entries(conn: Connection, base: str, attributes: list[str], scope: str = SUBTREE,
             search_filter: str = "(objectClass=*)") -> dict[str, dict[str, list]]:
    """Entries found, by DN; an attribute asked for but not returned maps to []."""
    conn.search(base, search_filter, search_scope=scope, attributes=attributes)
    return {entry.entry_dn: entry.entry_attributes_as_dict for entry in conn.entries}


def test_first_run_succeeds(directory: Directory) -> None:
    recap = directory.runs["first"].recap(SANDBOX)
    assert recap["failed"] == 0 and recap["unreachable"] == 0 and recap["changed"] > 0


def test_second_run_changes_nothing(directory: Directory) -> None:
    run = directory.runs["second"]
    assert run.returncode == 0, run.output[-4000:]
    recap = run.recap(SANDBOX)
    assert recap["changed"] == 0 and recap["failed"] == 0, run.output[-4000:]


def test_check_diff_run_passes_and_changes_nothing(directory: Directory) -> None:
    run = directory.runs["check"]
    assert run.returncode == 0, run.output[-4000:]
    recap = run.recap(SANDBOX)
    assert recap["changed"] == 0 and recap["failed"] == 0, run.output[-4000:]


def test_drift_is_repaired_and_only_the_drift(directory: Directory) -> None:
    run = directory.runs["repair"]
    # The --diff run lists the changes as "<dn>: <operation> <attribute>: <values>".
    changes = set()
    for line in run.output.splitlines():
        line = line.strip().rstrip(",").strip('"')
        if re.search(r"^\S+: (add|replace|delete) \w+", line):
            dn, rest = line.split(": ", 1)
            changes.add((dn, rest.split(":", 1)[0]))
    assert changes == {
        ("olcDatabase={1}mdb,cn=config", "replace olcAccess"),
        (ALICE, "replace mailLocalAddress"),
        (POSTFIX, "replace userPassword"),
    }, run.output[-4000:]
    # Two tasks: the configuration; the accounts (the first administrator is one).
    assert run.recap(SANDBOX)["changed"] == 2, run.output[-4000:]


@pytest.mark.parametrize("starttls", [True, False], ids=["starttls", "plain"])
def test_anonymous_sees_no_people(directory: Directory, starttls: bool) -> None:
    conn = directory.connect(starttls=starttls)
    assert _entries(conn, PEOPLE, ["*"]) == {}
    assert _entries(conn, BASE_DN, ["*"], search_filter="(uid=alice)") == {}


@pytest.mark.parametrize("ldaps", [False, True], ids=["starttls-389", "ldaps-636"])
def test_first_admin_binds_and_reads_own_entry(directory: Directory, ldaps: bool) -> None:
    conn = directory.connect(ALICE, PASSWORDS["alice"], ldaps=ldaps)
    assert conn.extend.standard.who_am_i() == f"dn:{ALICE}"
    own = _entries(conn, ALICE, ["uid", "cn", "mail", "mailLocalAddress", "objectClass"], BASE)
    assert own[ALICE]["uid"] == ["alice"]
    assert own[ALICE]["mail"] == ["alice@example.test"]
    assert sorted(own[ALICE]["mailLocalAddress"]) == ["alice@example.org", "postmaster@example.test"]
    assert {"inetOrgPerson", "inetLocalMailRecipient"} <= set(own[ALICE]["objectClass"])


def test_simple_bind_without_tls_is_refused(directory: Directory) -> None:
    conn = directory.try_bind(ALICE, PASSWORDS["alice"], starttls=False)
    assert not conn.bound
    assert conn.result["description"] == "confidentialityRequired"


@pytest.mark.parametrize("user,password", [
    (ALICE, "wrong password"),
    (ALICE, PASSWORDS["bob"]),
    (POSTFIX, PASSWORDS["dovecot"]),
    (ROOT_DN, PASSWORDS["alice"]),
], ids=["alice-wrong", "alice-bobs", "postfix-dovecots", "root-alices"])
def test_wrong_password_fails(directory: Directory, user: str, password: str) -> None:
    conn = directory.try_bind(user, password)
    assert not conn.bound, conn.result
    assert conn.result["description"] == "invalidCredentials", conn.result


def test_service_accounts_and_root_bind_with_vault_passwords(directory: Directory) -> None:
    for user, password in [(POSTFIX, PASSWORDS["postfix"]), (DOVECOT, PASSWORDS["dovecot"]),
                           (ROOT_DN, PASSWORDS["root"])]:
        conn = directory.connect(user, password, ldaps=True)
        assert conn.extend.standard.who_am_i() == f"dn:{user}"


def test_first_admin_cannot_read_other_passwords(directory: Directory) -> None:
    conn = directory.connect(ALICE, PASSWORDS["alice"])
    # The service accounts are invisible to people.
    assert _entries(conn, POSTFIX, ["*"], BASE) == {}
    assert _entries(conn, f"ou=services,{BASE_DN}", ["userPassword"]) == {}
    # Another person: the address book part only, never the password.
    bob = _entries(conn, BOB, ["*"], BASE)[BOB]
    assert bob.get("cn") == ["Bob Builder"] and bob.get("mail") == ["bob@example.test"]
    assert not (bob.get("userPassword") or bob.get("uid") or bob.get("mailLocalAddress"))
    # Nor can a filter on the password reveal it.
    assert _entries(conn, PEOPLE, ["cn"], search_filter="(&(uid=bob)(userPassword=*))") == {}


def test_dovecot_reads_people_but_not_passwords(directory: Directory) -> None:
    conn = directory.connect(DOVECOT, PASSWORDS["dovecot"])
    people = _entries(conn, PEOPLE, ["uid", "mail", "mailLocalAddress", "userPassword"],
                      search_filter="(objectClass=inetOrgPerson)")
    assert set(people) == {ALICE, BOB}
    assert people[ALICE]["uid"] == ["alice"] and people[ALICE]["mail"] == ["alice@example.test"]
    assert people[BOB]["mailLocalAddress"] == ["sales@example.test"]
    assert not any(attributes.get("userPassword") for attributes in people.values())
    # A user is found by any of their addresses, as Postfix and Dovecot will look them up.
    found = _entries(conn, PEOPLE, ["uid"],
                     search_filter="(|(mail=postmaster@example.test)(mailLocalAddress=postmaster@example.test))")
    assert list(found) == [ALICE]
    # The other service account stays invisible.
    assert _entries(conn, POSTFIX, ["*"], BASE) == {}


def test_postfix_reads_people_but_not_passwords(directory: Directory) -> None:
    conn = directory.connect(POSTFIX, PASSWORDS["postfix"], ldaps=True)
    people = _entries(conn, PEOPLE, ["uid", "mail", "userPassword", "sn"],
                      search_filter="(objectClass=inetOrgPerson)")
    assert set(people) == {ALICE, BOB}
    assert not any(a.get("userPassword") or a.get("sn") for a in people.values())


def _ldif_value(ldif: str, attribute: str) -> str:
    match = re.search(rf"^{attribute}:(:?) (\S+)$", ldif, re.MULTILINE)
    assert match, f"no {attribute} in:\n{ldif}"
    return base64.b64decode(match.group(2)).decode() if match.group(1) else match.group(2)


def test_stored_password_is_an_argon2_hash(directory: Directory) -> None:
    for dn in (ALICE, POSTFIX, DOVECOT):
        ldif = directory.root_ldif("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", dn,
                                   "-s", "base", "userPassword")
        assert _ldif_value(ldif, "userPassword").startswith("{ARGON2}$argon2id$")
    config = directory.root_ldif("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b",
                                 "olcDatabase={1}mdb,cn=config", "olcRootPW")
    assert _ldif_value(config, "olcRootPW").startswith("{ARGON2}$argon2id$")


def test_schemas_and_password_hash_configured(directory: Directory) -> None:
    schemas = directory.root_ldif("ldapsearch", "-LLL", "-b", "cn=schema,cn=config", "-s", "one", "cn")
    names = {re.sub(r"^\{\d+\}", "", line.split(": ", 1)[1])
             for line in schemas.splitlines() if line.startswith("cn: ")}
    assert {"core", "cosine", "inetorgperson", "nis", "misc"} <= names
    frontend = directory.root_ldif("ldapsearch", "-LLL", "-b", "olcDatabase={-1}frontend,cn=config",
                                   "olcPasswordHash")
    assert "olcPasswordHash: {ARGON2}" in frontend


def test_person_changes_own_password_and_slapd_hashes_it(directory: Directory) -> None:
    """The password-modify operation (self-service) stores an ARGON2 hash (olcPasswordHash)."""
    new_password = "bob-New Secret 6"
    conn = directory.connect(BOB, PASSWORDS["bob"])
    assert conn.extend.standard.modify_password(BOB, PASSWORDS["bob"], new_password), conn.result
    assert directory.connect(BOB, new_password, ldaps=True).bound
    assert not directory.try_bind(BOB, PASSWORDS["bob"]).bound
    ldif = directory.root_ldif("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", BOB, "-s", "base",
                               "userPassword")
    assert _ldif_value(ldif, "userPassword").startswith("{ARGON2}$argon2id$")
    # Nobody else may change it: not another person, not a service account.
    for user, password in [(ALICE, PASSWORDS["alice"]), (DOVECOT, PASSWORDS["dovecot"])]:
        other = directory.connect(user, password)
        assert not other.extend.standard.modify_password(BOB, None, "taken over")
        assert not other.modify(BOB, {"mail": [("MODIFY_REPLACE", ["evil@example.test"])]})
        assert other.result["description"] == "insufficientAccessRights"


def test_sync_helper_keeps_passwords_off_command_lines(directory: Directory) -> None:
    """Every program the helper starts is logged with its arguments (what `ps` shows): no secret."""
    probe = f"cn=probe,ou=services,{BASE_DN}"
    secrets = {"created": "probe-Secret 8", "changed": "probe-Secret 9", "root": PASSWORDS["root"]}
    setup = textwrap.dedent("""\
        set -eu
        dir=$(mktemp -d /tmp/ldap-sync-argv.XXXXXX)
        for tool in ldapsearch ldapwhoami ldapmodify ldapadd slappasswd; do
          real=$(command -v "$tool")
          cat > "$dir/$tool" <<EOF
        #!/bin/sh
        echo "$tool \\$*" >> $dir/argv.log
        exec $real "\\$@"
        EOF
          chmod 0755 "$dir/$tool"
        done
        echo "$dir"
        """)
    # `sandbox ssh` hands its words to the remote shell like ssh does: scripts go on stdin.
    done = provision("sandbox", "ssh", SANDBOX, "--", "bash", "-s", input=setup, timeout=120)
    assert done.returncode == 0, done.stderr
    shims = done.stdout.strip()
    b64 = {name: base64.b64encode(value.encode()).decode() for name, value in secrets.items()}
    # Create an entry with a password (hashed), change it (a failing bind, a new hash), and
    # confirm the rootDN's (a bind that succeeds).
    ldif = textwrap.dedent(f"""\
        dn: {probe}
        objectClass: organizationalRole
        objectClass: simpleSecurityObject
        cn: probe
        userPassword:: {b64['created']}

        dn: {probe}
        changetype: modify
        replace: userPassword
        userPassword:: {b64['changed']}
        -

        dn: olcDatabase={{1}}mdb,cn=config
        changetype: modify
        replace: olcRootPW
        olcRootPW:: {b64['root']}
        -
        """)
    try:
        sync = provision("sandbox", "ssh", SANDBOX, "--", f"PATH={shims}:$PATH", "python3",
                         "/usr/local/sbin/provision-ldap-sync", input=ldif, timeout=120)
        assert sync.returncode == 0, sync.stderr
        assert sync.stdout.count(probe) == 2, sync.stdout  # added, then its password replaced
        argv_log = directory.host.ssh(["cat", f"{shims}/argv.log"]).stdout
    finally:
        directory.host.ssh(["rm", "-rf", "--", shims], check=False)
        gone = provision("sandbox", "ssh", SANDBOX, "--", "ldapdelete", "-Q", "-Y", "EXTERNAL",
                         "-H", "ldapi:///", probe)
        assert gone.returncode in (0, 32), gone.stderr  # 32: never created
    tools = [line.split()[0] for line in argv_log.splitlines()]
    assert tools.count("slappasswd") == 2 and tools.count("ldapwhoami") == 2, argv_log
    assert "ldapmodify" in tools, argv_log
    assert directory.connect(ROOT_DN, PASSWORDS["root"]).bound
    for name in secrets:
        for text in (argv_log, sync.stdout, sync.stderr):
            assert secrets[name] not in text and b64[name] not in text, f"{name} password shown"


def test_first_admin_password_is_only_the_initial_one(directory: Directory) -> None:
    """The first administrator changes their password; later runs keep it (last: it runs the playbook)."""
    new_password = "alice-Own Secret 7"
    conn = directory.connect(ALICE, PASSWORDS["alice"])  # StartTLS, as a mail client would
    assert conn.extend.standard.modify_password(ALICE, PASSWORDS["alice"], new_password), conn.result
    try:
        runs = {"after-change": _playbook(directory.workdir, "--diff"),
                "after-change-check": _playbook(directory.workdir, "--check", "--diff")}
        print("\nplaybook runs: " + ", ".join(f"{name} {run.seconds:.1f}s" for name, run in runs.items()))
        for run in runs.values():
            assert run.returncode == 0, run.output[-4000:]
            recap = run.recap(SANDBOX)
            assert recap["changed"] == 0 and recap["failed"] == 0, run.output[-4000:]
        assert directory.connect(ALICE, new_password, ldaps=True).bound
        assert directory.connect(ALICE, new_password).bound
        old = directory.try_bind(ALICE, PASSWORDS["alice"])
        assert not old.bound and old.result["description"] == "invalidCredentials", old.result
    finally:
        # The vault password back (root over ldapi), for tests run after this one.
        directory.root_ldif("ldappasswd", "-T", "/dev/stdin", ALICE, stdin=PASSWORDS["alice"])
    assert directory.connect(ALICE, PASSWORDS["alice"]).bound
