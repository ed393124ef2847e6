"""The webmail as people use it: Roundcube at https://HOST/mail/ in a real browser (Debian's Chromium).

One server of its own (the session's mail server stays without a webmail), provisioned with
provision_webmail: true; three people on it, and each test works through the browser as one of them.
"""

from __future__ import annotations

import imaplib
import json
import plistlib
import shlex
import smtplib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.bans import lift_every_ban, reaches, wait_for_ban
from tests.conftest import REPO, MailServer, provision, sandbox_name, start_sandbox, stop_sandbox
from tests.dav import request
from tests.people import Person, sync, users
from tests.roles.test_mail import OUTSIDE, imap_login, message, tls_context

DOCS = REPO / "docs"
WAIT = 30  # seconds a page or a message may take on a loaded test machine


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[MailServer]:
    host = start_sandbox(sandbox_name("wm"))
    try:
        directory = tmp_path_factory.mktemp("webmail") / "webmail-gmbh"
        password_file = directory.parent / "vault.password"
        password_file.write_text("webmail test vault password\n")
        env = {"PROVISION_VAULT_PASSWORD_FILE": str(password_file)}
        init = provision("init", str(directory), "--domain", "example.test", "--hostname", host.hostname,
                         "--host", host.address, "--sandbox", env=env)
        assert init.returncode == 0, init.stderr
        settings = directory / "group_vars/all/provision.yml"
        settings.write_text(settings.read_text().replace("webmail: false", "webmail: true"))
        server = MailServer(host, directory, env)
        applied = server.apply()
        assert applied.returncode == 0, applied.stderr + applied.stdout
        server.fresh_check = server.apply()  # the second apply, which must change nothing
        yield server
    finally:
        stop_sandbox(host.name)


def add_person(server: MailServer, label: str) -> Person:
    uid = f"{label.lower()}{uuid.uuid4().hex[:4]}"
    person = Person(uid, f"{uid}@example.test", f"{label} Webmailer", f"Pw-{uuid.uuid4().hex}")
    done = users(server, "add", uid, "--name", person.name, "--mail", person.mail, "--password-stdin",
                 input=person.password + "\n")
    assert done.returncode == 0, done.stderr
    return person


@dataclass(frozen=True)
class Staff:
    anna: Person
    ben: Person
    carl: Person


@pytest.fixture(scope="module")
def staff(server) -> Staff:
    return Staff(add_person(server, "Anna"), add_person(server, "Ben"), add_person(server, "Carl"))


@pytest.fixture(scope="module")
def ca_file(server, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("webmail-ca") / "server.pem"
    path.write_text(server.host.ssh(["cat", "/etc/ssl/provision/fullchain.pem"]).stdout)
    return path


class Webmail:
    """A browser at the webmail, working it by its forms and buttons as a person does."""

    def __init__(self, driver: WebDriver, hostname: str) -> None:
        self.driver, self.base = driver, f"https://{hostname}/mail/"

    def wait(self, condition: Callable[[WebDriver], object], timeout: float = WAIT) -> object:
        # Roundcube redraws lists and frames while we read them; an element read mid-redraw is asked again.
        return WebDriverWait(self.driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
            condition
        )

    def open(self, query: str = "") -> None:
        self.driver.get(self.base + query)

    def login(self, login: str, password: str) -> str:
        """Submit the login form; the error shown, or "" once the mail view is there."""
        self.open()
        self.wait(ready.presence_of_element_located((By.ID, "rcmloginuser")))
        self.driver.find_element(By.ID, "rcmloginuser").clear()
        self.driver.find_element(By.ID, "rcmloginuser").send_keys(login)
        self.driver.find_element(By.ID, "rcmloginpwd").send_keys(password)
        self.driver.find_element(By.ID, "rcmloginsubmit").click()
        self.wait(lambda driver: driver.find_elements(By.ID, "messagelist")
                  or self.message_shown() or None)
        return "" if self.driver.find_elements(By.ID, "messagelist") else self.message_shown()

    def message_shown(self) -> str:
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#messagestack div'), e => e.innerText.trim())"
            ".filter(Boolean).join(' ')") or ""

    def row(self, subject: str, folder: str = "INBOX") -> object:
        """The message list's row with this subject, reloading the folder until it is there."""
        self.open(f"?_task=mail&_mbox={folder}")
        deadline = time.monotonic() + WAIT
        while True:
            rows = [row for row in self.driver.find_elements(By.CSS_SELECTOR, "#messagelist tbody tr")
                    if subject in row.text]
            if rows:
                return rows[0]
            assert time.monotonic() < deadline, f"{subject!r} is not listed in {folder}"
            time.sleep(1)
            self.driver.execute_script("rcmail.command('checkmail')")

    def save_screenshot(self, name: str) -> None:
        DOCS.mkdir(exist_ok=True)
        self.driver.save_screenshot(str(DOCS / name))

    def csp_violations(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")
                if "Content Security Policy" in entry["message"]]


@pytest.fixture
def webmail(browser, server) -> Callable[[], Webmail]:
    def open_webmail() -> Webmail:
        # The certificate is self-signed; test_check_reports_the_webmail checks it against the server's.
        driver = browser(resolve={server.host.hostname: server.host.address}, insecure=True)
        return Webmail(driver, server.host.hostname)
    return open_webmail


def imap_subjects(server: MailServer, login: str, password: str, folder: str, subject: str) -> int:
    """How many messages with this subject the folder has, waiting a little for delivery."""
    deadline = time.monotonic() + WAIT
    with imaplib.IMAP4_SSL(server.host.address, 993, ssl_context=tls_context()) as imap:
        imap.login(login, password)
        while True:
            imap.select(folder, readonly=True)
            found = imap.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
            if found or time.monotonic() > deadline:
                return len(found)
            time.sleep(1)


def deliver(server: MailServer, sender: str, recipient: str, subject: str) -> None:
    with smtplib.SMTP(server.host.address, 25, local_hostname=OUTSIDE, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.send_message(message(sender, recipient, subject))


def replies_queued_for(server: MailServer, recipient: str) -> int:
    """Messages to recipient in Postfix's queue: the sandbox has no route out, so replies wait there."""
    listed = server.host.ssh("postqueue -j").stdout.splitlines()
    return sum(recipient in (entry["address"] for entry in json.loads(line)["recipients"]) for line in listed)


def test_the_second_apply_changes_nothing(server):
    assert server.fresh_check.returncode == 0, server.fresh_check.stderr
    assert "changed  " not in server.fresh_check.stdout


def test_login_page_cookie_and_headers(server):
    response = request(server.host.address, "GET", "/mail/", host=server.host.hostname)
    assert response.status == 200 and 'name="_user"' in response.body
    cookie = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
    assert {"secure", "httponly", "samesite=lax", "path=/mail/"} <= set(cookie)
    policy = response.headers["content-security-policy"]
    assert "object-src 'none'" in policy and "frame-ancestors 'self'" in policy
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    autoconfig = request(server.host.address, "GET", "/mail/config-v1.1.xml", host=server.host.hostname)
    assert f'<loginPage url="https://{server.host.hostname}/mail/"/>' in autoconfig.body


def test_check_reports_the_webmail(server, ca_file):
    done = provision("--json", "check", str(server.inventory), "--only", "services.https.webmail",
                     "--ca-file", str(ca_file), env=server.env, timeout=120)
    checks = json.loads(done.stdout)["targets"][0]["checks"]
    assert [(item["id"], item["status"]) for item in checks] == [("services.https.webmail", "OK")], checks
    assert done.returncode == 0
    unverified = provision("--json", "check", str(server.inventory), "--only", "services.https.webmail",
                           env=server.env, timeout=120)
    assert json.loads(unverified.stdout)["targets"][0]["checks"][0]["status"] == "CRIT"


def test_roundcube_updates_come_from_debian_security(server):
    policy = server.host.ssh("apt-cache policy roundcube-core").stdout
    installed = policy.split("***", 1)[1].split("\n")
    origins = [line for line in installed[1:] if line.startswith("        ")]
    assert any("trixie-security" in line for line in origins), policy
    rules = server.host.ssh("cat /etc/apt/apt.conf.d/50unattended-upgrades").stdout
    assert "codename=${distro_codename}-security,label=Debian-Security" in rules


def test_read_send_and_look_up_a_colleague(server, staff, webmail):
    subject = f"delivered {uuid.uuid4().hex[:8]}"
    deliver(server, "customer@example.net", staff.anna.mail, subject)
    page = webmail()
    assert page.login(staff.anna.mail, staff.anna.password) == ""
    row = page.row(subject)
    row.find_element(By.CSS_SELECTOR, "span.subject a").click()
    page.wait(ready.frame_to_be_available_and_switch_to_it((By.ID, "messagecontframe")))
    page.wait(lambda driver: "Hello from the tests." in driver.find_element(By.TAG_NAME, "body").text)
    page.driver.switch_to.default_content()
    page.save_screenshot("webmail-inbox.png")

    sent = f"from the webmail {uuid.uuid4().hex[:8]}"
    page.open("?_task=mail&_action=compose")
    page.wait(ready.visibility_of_element_located((By.CSS_SELECTOR, "ul.recipient-input input")))
    page.driver.find_element(By.CSS_SELECTOR, "ul.recipient-input input").send_keys(staff.ben.mail)
    page.driver.find_element(By.ID, "compose-subject").send_keys(sent)
    page.driver.find_element(By.ID, "composebody").send_keys("Hello Ben, sent from the browser.")
    page.driver.find_element(By.CSS_SELECTOR, "button.send").click()
    page.wait(lambda driver: "_action=compose" not in driver.current_url)
    assert imap_subjects(server, staff.ben.mail, staff.ben.password, "INBOX", sent) == 1
    assert imap_subjects(server, staff.anna.mail, staff.anna.password, "Sent", sent) == 1

    page.open("?_task=addressbook")
    company = (By.XPATH, "//*[@id='directorylist']//a[text()='Company']")
    page.wait(ready.element_to_be_clickable(company)).click()
    search = page.wait(ready.visibility_of_element_located((By.ID, "searchform")))
    search.send_keys(staff.ben.name.split()[0], Keys.ENTER)

    def listed(driver: WebDriver) -> str:  # read at once: the search replaces the rows as they are read
        return driver.execute_script(
            "return Array.from(document.querySelectorAll('#contacts-table tbody tr'), row => row.innerText)"
            ".join(' ')")

    # The book lists everyone at first; the search leaves the colleague searched for.
    page.wait(lambda driver: staff.ben.name in listed(driver) and staff.anna.name not in listed(driver))
    assert page.csp_violations() == []


def test_vacation_reply_set_in_the_settings(server, staff, webmail):
    page = webmail()
    assert page.login(staff.ben.uid, staff.ben.password) == ""
    page.open("?_task=settings&_action=plugin.managesieve-vacation")
    status = page.wait(ready.visibility_of_element_located((By.ID, "vacation_status")))
    Select(status).select_by_value("on")
    page.driver.find_element(By.ID, "vacation_subject").send_keys("Out of office")
    page.driver.find_element(By.ID, "vacation_reason").send_keys("I am away until Monday.")
    page.save_screenshot("webmail-settings.png")
    page.driver.find_element(By.CSS_SELECTOR, "button.submit").click()
    page.wait(lambda driver: page.message_shown())
    page.open("?_task=settings&_action=plugin.managesieve-vacation")  # as saved
    status = page.wait(ready.visibility_of_element_located((By.ID, "vacation_status")))
    assert Select(status).first_selected_option.get_attribute("value") == "on"
    assert page.driver.find_element(By.ID, "vacation_subject").get_attribute("value") == "Out of office"
    assert page.csp_violations() == []

    sender = f"customer-{uuid.uuid4().hex[:8]}@example.net"
    for number in (1, 2):
        deliver(server, sender, staff.ben.mail, f"are you there? {number}")
        assert imap_subjects(server, staff.ben.mail, staff.ben.password, "INBOX", f"are you there? {number}")
    deadline = time.monotonic() + WAIT
    while replies_queued_for(server, sender) == 0:
        assert time.monotonic() < deadline, "no vacation reply was sent"
        time.sleep(1)
    time.sleep(3)  # a second reply, were there one, would be queued by now
    assert replies_queued_for(server, sender) == 1


def test_password_change_in_the_settings(server, staff, webmail):
    anna = staff.anna
    page = webmail()
    assert page.login(anna.uid, anna.password) == ""

    def change(new: str) -> str:
        page.open("?_task=settings&_action=plugin.password")
        page.wait(ready.visibility_of_element_located((By.ID, "curpasswd"))).send_keys(anna.password)
        page.driver.find_element(By.ID, "newpasswd").send_keys(new)
        page.driver.find_element(By.ID, "confpasswd").send_keys(new)
        page.driver.find_element(By.CSS_SELECTOR, "button.submit").click()
        return str(page.wait(lambda driver: page.message_shown()))

    assert "at least 12 characters" in change("Short-1")  # the inventory's rule
    assert imap_login(server, anna.uid, anna.password)
    new = f"New-{uuid.uuid4().hex}"
    assert "Successfully saved" in change(new)
    assert not imap_login(server, anna.uid, anna.password)
    assert imap_login(server, anna.mail, new)
    assert request(server.host.address, "PROPFIND", "/", anna.uid, anna.password,
                   headers={"Depth": "0"}).status == 401
    assert request(server.host.address, "PROPFIND", "/", anna.uid, new, headers={"Depth": "0"}).status == 207
    with smtplib.SMTP(server.host.address, 587, timeout=20) as smtp:
        smtp.starttls(context=tls_context())
        smtp.login(anna.mail, new)


def test_a_disabled_person_cannot_log_in(server, staff, webmail):
    carl = staff.carl
    assert webmail().login(carl.uid, carl.password) == ""
    done = users(server, "disable", carl.uid)
    assert done.returncode == 0, done.stderr
    assert webmail().login(carl.uid, carl.password) == "Login failed."


def test_ten_wrong_passwords_meet_roundcubes_login_limit(server, staff, webmail):
    """After the other browser logins: Dovecot's penalty on this machine's address, which the failures
    raise, slows every later login from here by up to 15 s."""
    ben = staff.ben
    page = webmail()
    assert webmail().login(ben.uid, ben.password) == ""  # Roundcube limits logins it knows
    shown = [page.login(ben.uid, f"wrong-{attempt}") for attempt in range(10)]
    assert shown[0] == "Login failed."
    assert shown[-1] == "Too many failed login attempts. Try again later."
    assert page.login(ben.uid, ben.password) == "Too many failed login attempts. Try again later."
    log = server.host.ssh("cat /var/log/roundcube/userlogins.log").stdout
    failed = [line for line in log.splitlines() if f"Failed login for {ben.uid} from " in line]
    assert len(failed) >= 3, log  # the lines fail2ban's roundcube-auth filter matches
    # The webmail named the browser's address to Dovecot: the penalty is that address's, and the
    # webmail's loopback, which every person shares, has none.
    browser_address = server.host.ssh("echo $SSH_CLIENT").stdout.split()[0]
    penalised = [line.split()[0] for line in server.host.ssh("doveadm penalty").stdout.splitlines()[1:]]
    assert browser_address in penalised and "127.0.0.1" not in penalised, penalised


def test_a_guesser_at_the_login_form_is_banned_from_the_web_ports(server, sandbox):
    """Wrong passwords for ever new login names (which Roundcube's own limit, per name, lets through)
    from the outside sandbox: fail2ban bans its address from HTTPS; this machine is never banned."""
    guesses = (
        "import http.cookiejar, re, ssl, sys, urllib.error, urllib.parse, urllib.request\n"
        "address, hostname = sys.argv[1:3]\n"
        "url, headers, seen = 'https://' + address + '/mail/', {'Host': hostname}, []\n"
        "for n in range(8):\n"
        "    jar = http.cookiejar.CookieJar()\n"
        "    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),\n"
        "        urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))\n"
        "    try:\n"
        "        page = opener.open(urllib.request.Request(url, headers=headers), timeout=10).read()\n"
        "        token = re.search(rb'name=\"_token\" value=\"([^\"]+)\"', page).group(1).decode()\n"
        "        form = {'_task': 'login', '_action': 'login', '_token': token, '_timezone': 'UTC',\n"
        "                '_user': 'guess%d' % n, '_pass': 'wrong'}\n"
        "        opener.open(urllib.request.Request(url + '?_task=login', headers=headers,\n"
        "                    data=urllib.parse.urlencode(form).encode()), timeout=10)\n"
        "        seen.append('logged in')\n"
        "    except urllib.error.HTTPError as error:\n"
        "        seen.append(str(error.code))\n"
        "    except OSError:\n"
        "        seen.append('no answer')\n"
        "print(' '.join(seen))\n")
    try:
        seen = sandbox.ssh(shlex.join(["python3", "-c", guesses, server.host.address, server.host.hostname]))
        assert seen.stdout.split()[0] == "401", seen.stdout + seen.stderr  # Roundcube's "Login failed."
        # Dovecot's jail may ban it from IMAP too: the webmail names the guesser's address to Dovecot.
        listed = wait_for_ban(server, sandbox.address, "provision-roundcube")
        assert {ban["address"] for ban in listed} == {sandbox.address}, listed
        assert not reaches(sandbox, server, 443)
        assert request(server.host.address, "GET", "/mail/", host=server.host.hostname).status == 200
    finally:
        lift_every_ban(server)
    assert reaches(sandbox, server, 443)


def test_the_apple_profile_puts_the_webmail_on_the_home_screen(server, staff):
    ben = staff.ben  # whose password the tests above left as it was
    sync(server)  # the profiles of people just added
    response = request(server.host.address, "GET", "/profile.mobileconfig", ben.uid, ben.password)
    assert response.status == 200
    payloads = {payload["PayloadType"]: payload
                for payload in plistlib.loads(response.body.encode())["PayloadContent"]}
    clip = payloads["com.apple.webClip.managed"]
    assert (clip["URL"], clip["Label"]) == (f"https://{server.host.hostname}/mail/", "Webmail")
    assert request(server.host.address, "GET", "/mail/", host=server.host.hostname).status == 200
