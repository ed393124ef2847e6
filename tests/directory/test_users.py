"""`provision users` on the shared mail server: the people it makes log in, get mail, and lose access.

Every user made here has a unique name and is removed at the end. Passwords must never
show in a process list (here or on the server) nor in any output, but for the one
generated password shown once.
"""

from __future__ import annotations

import csv
import imaplib
import io
import json
import smtplib
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, MailServer, provision
from tests.roles.test_mail import OUTSIDE, fetch, imap_login, message, submit, tls_context

PASSWORDS: list[str] = []  # every password this module uses
OUTPUTS: list[str] = []  # stdout and stderr of every `provision users` run


def users(server: MailServer, action: str, *args: str,
          input: str | None = None) -> subprocess.CompletedProcess[str]:
    done = provision("users", action, str(server.inventory), *args, input=input, env=server.env, timeout=120)
    OUTPUTS.append(done.stdout + done.stderr)
    return done


def new_password() -> str:
    PASSWORDS.append(f"pw-{uuid.uuid4().hex}")
    return PASSWORDS[-1]


class ProcessWatch:
    """`ps -eo args` here and on the server, polled while the module's commands run."""

    def __init__(self, server: MailServer):
        self.local: list[str] = []
        self.remote_output = ""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.remote = subprocess.Popen(
            [sys.executable, "-m", "provision", "sandbox", "ssh", server.host.name, "--",
             "while :; do ps -eo args; sleep 0.1; done"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)

    def _poll(self) -> None:
        while not self.stop.wait(0.05):
            self.local.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> str:
        if not self.stop.is_set():
            self.stop.set()
            self.thread.join()
            self.remote.terminate()
            self.remote_output = self.remote.communicate(timeout=20)[0]
        return "".join(self.local) + self.remote_output


@pytest.fixture(scope="module")
def watch(mail_server) -> Iterator[ProcessWatch]:
    watcher = ProcessWatch(mail_server)
    watcher.start()
    yield watcher
    watcher.finish()


@pytest.fixture(scope="module")
def person(mail_server, watch) -> Iterator[dict[str, str]]:
    """A new person with an alias, added with a password on stdin; removed at the end."""
    uid = f"u{uuid.uuid4().hex[:8]}"
    data = {"uid": uid, "mail": f"{uid}@example.test", "alias": f"{uid}-sales@example.org",
            "password": new_password()}
    done = users(mail_server, "add", uid, "--name", "Test Person", "--mail", data["mail"],
                 "--alias", data["alias"], "--password-stdin", input=data["password"] + "\n")
    assert done.returncode == 0, done.stderr
    yield data
    _cleanup(mail_server, uid)


def _cleanup(server: MailServer, uid: str) -> None:
    if users(server, "show", uid).returncode == 0:
        assert users(server, "remove", uid).returncode == 0


def inbound(server: MailServer, recipient: str) -> str:
    subject = f"users {uuid.uuid4().hex}"
    with smtplib.SMTP(server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.send_message(message("someone@example.net", recipient, subject))
    return subject


def smtp_auth(server: MailServer, login: str, password: str) -> bool:
    try:
        submit(server, login, password, message(login, "someone@example.net", "auth"))
    except smtplib.SMTPAuthenticationError:
        return False
    return True


def listing(server: MailServer) -> list[dict[str, object]]:
    done = users(server, "list", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_added_person_logs_in_and_receives_mail_to_address_and_alias(mail_server, person):
    for recipient in (person["mail"], person["alias"]):
        subject = inbound(mail_server, recipient)
        received = fetch(mail_server, person["mail"], person["password"], subject)
        assert f"Subject: {subject}".encode() in received


def test_list_shows_the_person(mail_server, person):
    row = next(row for row in listing(mail_server) if row["uid"] == person["uid"])
    assert row == {"uid": person["uid"], "name": "Test Person", "mail": person["mail"],
                   "aliases": [person["alias"]], "phone": None, "state": "enabled"}


def test_added_alias_receives_mail(mail_server, person):
    alias = f"{person['uid']}-info@example.test"
    done = users(mail_server, "set", person["uid"], "--add-alias", alias, "--phone", "+49 30 1234")
    assert done.returncode == 0, done.stderr
    subject = inbound(mail_server, alias)
    assert f"Subject: {subject}".encode() in fetch(mail_server, person["mail"], person["password"], subject)


def test_passwd_replaces_the_password(mail_server, person):
    old, new = person["password"], new_password()
    done = users(mail_server, "passwd", person["uid"], "--password-stdin", input=new + "\n")
    assert done.returncode == 0, done.stderr
    person["password"] = new
    assert not imap_login(mail_server, person["mail"], old)
    assert imap_login(mail_server, person["mail"], new)


def test_disable_blocks_imap_and_smtp_auth_at_once_and_enable_restores_them(mail_server, person):
    login, password = person["mail"], person["password"]
    session = imaplib.IMAP4_SSL(mail_server.host.address, 993, ssl_context=tls_context())
    session.login(login, password)
    assert users(mail_server, "disable", person["uid"]).returncode == 0
    with pytest.raises((imaplib.IMAP4.abort, OSError)):  # the session opened before is ended
        session.noop()
        session.select("INBOX")
    assert not imap_login(mail_server, login, password)
    assert not smtp_auth(mail_server, login, password)
    assert next(row for row in listing(mail_server) if row["uid"] == person["uid"])["state"] == "disabled"
    assert users(mail_server, "enable", person["uid"]).returncode == 0
    assert imap_login(mail_server, login, password)
    assert smtp_auth(mail_server, login, password)


@pytest.mark.parametrize("args, complaint", [
    (["add", "{uid}", "--name", "X", "--mail", "{uid}@example.net"], "not in the server's domains"),
    (["add", "{uid}", "--name", "X", "--mail", "{uid}@example.test", "--alias", "admin@example.test"],
     "admin@example.test already belongs to uid=admin"),
    (["add", "Bad Uid!", "--name", "X", "--mail", "bad@example.test"], "is not a login name"),
    (["set", "{person}", "--add-alias", "admin@example.test"], "already belongs to uid=admin"),
    (["set", "{person}", "--mail", "x@elsewhere.example"], "not in the server's domains"),
])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(mail_server, person, args, complaint):
    before = listing(mail_server)
    uid = f"u{uuid.uuid4().hex[:8]}"
    action, *rest = [arg.format(uid=uid, person=person["uid"]) for arg in args]
    done = users(mail_server, action, *rest, "--password-stdin", input="never-used\n") \
        if action == "add" else users(mail_server, action, *rest)
    assert done.returncode == 2, done.stderr
    assert complaint in done.stderr and done.stderr.count("\n") <= 2  # the line and maybe a hint
    assert listing(mail_server) == before


@pytest.mark.parametrize("uri", ["ldap://127.0.0.1:389", "ldaps://127.0.0.1:636"])
def test_direct_ldap_needs_ldaps_and_a_verifiable_certificate(mail_server, uri):
    done = users(mail_server, "list", "--ldap-uri", uri)
    assert done.returncode == 2
    assert "is not an ldaps:// URI" in done.stderr if uri.startswith("ldap:") else \
        "self-signed certificate cannot be verified" in done.stderr


def test_generated_password_is_shown_once_or_written_to_a_new_private_file(mail_server, watch, tmp_path):
    shown, written = f"u{uuid.uuid4().hex[:8]}", f"u{uuid.uuid4().hex[:8]}"
    try:
        done = users(mail_server, "add", shown, "--name", "Shown Once", "--mail", f"{shown}@example.test")
        assert done.returncode == 0, done.stderr
        OUTPUTS.pop()  # the one output allowed to hold a password
        password = done.stdout.rpartition("password (shown once): ")[2].strip()
        assert done.stdout.count(password) == 1 and password not in done.stderr
        assert imap_login(mail_server, f"{shown}@example.test", password)
        PASSWORDS.append(password)

        out = tmp_path / "password"
        done = users(mail_server, "add", written, "--name", "Written", "--mail", f"{written}@example.org",
                     "--password-out", str(out))
        assert done.returncode == 0, done.stderr
        assert out.stat().st_mode & 0o777 == 0o600
        PASSWORDS.append(out.read_text().strip())
        assert imap_login(mail_server, f"{written}@example.org", PASSWORDS[-1])
    finally:
        _cleanup(mail_server, shown)
        _cleanup(mail_server, written)


def test_remove_archives_the_mailbox_and_refuses_login_and_mail(mail_server, person):
    subject = inbound(mail_server, person["mail"])
    fetch(mail_server, person["mail"], person["password"], subject)  # the mailbox has mail
    home = f"/var/vmail/example.test/{person['uid']}"
    done = users(mail_server, "remove", person["uid"], "--json")
    assert done.returncode == 0, done.stderr
    archive = json.loads(done.stdout)["archive"]
    assert archive.startswith(f"/var/vmail/.removed/example.test/{person['uid']}-")
    assert mail_server.host.ssh(["test", "-d", f"{archive}/Maildir/cur"], check=False).returncode == 0
    assert mail_server.host.ssh(["test", "-e", home], check=False).returncode != 0  # never reused
    assert not imap_login(mail_server, person["mail"], person["password"])
    with smtplib.SMTP(mail_server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.ehlo(OUTSIDE)
        smtp.mail("someone@example.net")
        assert smtp.rcpt(person["mail"])[0] == 550


def test_import_creates_the_good_rows_once_and_reports_the_bad(mail_server, tmp_path):
    prefix = f"i{uuid.uuid4().hex[:6]}"
    rows = [[f"{prefix}{n:02}", f"Person {n}", f"{prefix}{n:02}@example.test",
             f"{prefix}{n:02}-x@example.org", ""] for n in range(30)]
    rows[5][2] = f"{prefix}05@elsewhere.example"  # outside the domains
    rows[12][0] = "Not A Uid"
    rows[20][3] = rows[3][2]  # another row's address
    sheet = tmp_path / "people.csv"
    with sheet.open("w", newline="") as file:
        csv.writer(file).writerows([["uid", "name", "mail", "aliases", "phone"], *rows])
    good = [row[0] for n, row in enumerate(rows) if n not in (5, 12, 20)]
    try:
        first = users(mail_server, "import", str(sheet), "--json", "--password-out", str(tmp_path / "pw1"))
        assert first.returncode == 1, first.stderr
        report = json.loads(first.stdout)
        assert (report["created"], report["exists"], report["failed"]) == (27, 0, 3)
        assert [entry["line"] for entry in report["rows"] if entry["status"] == "failed"] == [7, 14, 22]
        assert (tmp_path / "pw1").stat().st_mode & 0o777 == 0o600
        passwords = list(csv.reader((tmp_path / "pw1").open()))
        assert [uid for uid, _, _ in passwords] == good
        PASSWORDS.extend(password for _, _, password in passwords)
        assert imap_login(mail_server, passwords[0][1], passwords[0][2])

        again = users(mail_server, "import", str(sheet), "--json", "--password-out", str(tmp_path / "pw2"))
        report = json.loads(again.stdout)
        assert (again.returncode, report["created"], report["exists"], report["failed"]) == (1, 0, 27, 3)
        assert not (tmp_path / "pw2").exists()

        exported = users(mail_server, "export", "--format", "csv")
        assert exported.returncode == 0, exported.stderr
        listed = {row["uid"]: row for row in csv.DictReader(io.StringIO(exported.stdout))}
        assert listed[good[1]]["aliases"] == f"{good[1]}-x@example.org"
        assert set(good) <= set(listed)
        as_json = json.loads(users(mail_server, "export", "--format", "json").stdout)
        assert {row["uid"] for row in as_json} == set(listed)
    finally:
        # -c: past the entries that were never made
        mail_server.host.ssh(["ldapdelete", "-c", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///",
                              *(f"uid={uid},ou=people,dc=example,dc=test" for uid in good)], check=False)
        assert not [row for row in listing(mail_server) if row["uid"].startswith(prefix)]


@pytest.mark.parametrize("output", ["dangling link", "missing directory"])
def test_a_password_file_that_cannot_be_made_fails_before_anyone_is_created(mail_server, tmp_path, output):
    """Before, the people were made and their passwords then lost with a traceback."""
    uid = f"u{uuid.uuid4().hex[:8]}"
    sheet = tmp_path / "people.csv"
    sheet.write_text(f"uid,name,mail,aliases,phone\n{uid},Lost Password,{uid}@example.test,,\n")
    out = tmp_path / "no-such-directory" / "pw.csv"
    if output == "dangling link":
        out = tmp_path / "pw.csv"
        out.symlink_to(tmp_path / "elsewhere.csv")
    before = listing(mail_server)
    for action in (["import", str(sheet)],
                   ["add", uid, "--name", "Lost Password", "--mail", f"{uid}@example.test"]):
        done = users(mail_server, *action, "--password-out", str(out))
        assert done.returncode == 2, done.stderr
        assert str(out) in done.stderr and "Traceback" not in done.stderr
        assert listing(mail_server) == before
    assert not (tmp_path / "elsewhere.csv").exists()


def test_no_password_in_process_lists_or_output(watch):
    seen = watch.finish()
    assert "slapd" in watch.remote_output  # the server's process list was read
    assert "provision users" in seen.replace(" -m provision", " provision")
    for password in PASSWORDS:
        assert password not in seen
        assert not any(password in output for output in OUTPUTS)
