"""Mailboxes on the server, over SSH: what the directory cannot do.

A removed person's or shared mailbox's Maildir is archived (moved aside, never reused by a
later owner of the address) or purged; a shared mailbox's ACL names the group whose members
may open it. Paths are the dovecot role's defaults (dovecot_mail_root, mail_home).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from provision import remote
from provision.inventory.model import Inventory

MAIL_ROOT = "/var/vmail"
ARCHIVE = f"{MAIL_ROOT}/.removed"  # no domain is named without a dot, so no mailbox lands here
TIMEOUT = 120
HINT = "has `provision apply` run on this server?"
# Everything but "admin": members read, file, flag, delete and make folders, but cannot
# hand the mailbox on to others.
MEMBER_RIGHTS = ("lookup", "read", "write", "write-seen", "write-deleted", "insert", "post",
                 "expunge", "create", "delete")


def home(address: str) -> str:
    """A mailbox's home, as the dovecot role's mail_home names it."""
    local, _, domain = address.lower().rpartition("@")
    return f"{MAIL_ROOT}/{domain}/{local}"


@dataclass
class MailStore:
    connection: remote.Connection

    def run(self, argv: Sequence[str]) -> str:
        return self.connection.run(argv, timeout=TIMEOUT, hint=HINT).text

    def exists(self, path: str) -> bool:
        return self.run(["sh", "-c", f"test -e {shlex.quote(path)} && echo yes || echo no"]).strip() == "yes"

    def archive(self, address: str) -> str | None:
        """Move the mailbox under ARCHIVE, named with the time; where it went, or None without one."""
        source = home(address)
        if not self.exists(source):
            return None
        local, _, domain = address.lower().rpartition("@")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = f"{ARCHIVE}/{domain}/{local}-{stamp}"
        self.run(["install", "-d", "-m", "0700", ARCHIVE, f"{ARCHIVE}/{domain}"])
        self.run(["mv", "--no-target-directory", source, target])
        return target

    def purge(self, address: str) -> str | None:
        """Delete the mailbox for good; its path, or None without one."""
        source = home(address)
        if not self.exists(source):
            return None
        self.run(["rm", "-rf", "--", source])
        return source

    def share(self, address: str, group: str) -> None:
        """Let the members of group cn=<group> into the mailbox: the ACL of its INBOX, which its
        folders inherit. Dovecot sees a person's groups as their memberOf DNs split at the commas,
        so cn=<group> is one of them. doveadm also records the group in Dovecot's sharing map, so
        that members see the mailbox in their folder list.
        """
        self.run(["doveadm", "acl", "set", "-u", address, "INBOX", f"group=cn={group}", *MEMBER_RIGHTS])

    def kick(self, login: str) -> None:
        """End the person's open IMAP sessions, which keep the groups they started with; their mail
        program reconnects with the rights they have now. By process id: `doveadm kick` misses a
        session that has opened another user's mailbox (Dovecot 2.4.1), and an IMAP process
        serves one connection."""
        listing = self.run(["doveadm", "-f", "tab", "who", "-1", login])
        rows = [line.split("\t") for line in listing.splitlines()[1:]]
        pids = [row[2] for row in rows if len(row) > 2 and row[:2] == [login, "imap"] and row[2].isdigit()]
        if pids:
            self.run(["sh", "-c", f"kill {' '.join(pids)} 2>/dev/null; true"])  # some may have ended


@contextmanager
def mailstore(inventory: Inventory) -> Iterator[MailStore]:
    with remote.connect(remote.login_of(inventory)) as connection:
        yield MailStore(connection)
