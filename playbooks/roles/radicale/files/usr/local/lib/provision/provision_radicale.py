# managed by provision: changes here are overwritten by `provision apply`
"""Radicale's logins and rights on the directory (provision's radicale role).

Auth: a login is a uid, or an address provision-dav-sync has mapped to one; the
password is checked by binding to slapd as the person over the local socket, so a
disabled person (a password slapd cannot verify) is refused at once. The same bind
reads which groups the person is in.

Rights: a person owns UID/...; the members of a group read and write
GROUPS_ROOT/GROUP/...; everyone reads COMPANY_ROOT/...; `provision calendars share`
grants others a collection through the shares file.
"""

import configparser
import json
import os
import re
import threading

import ldap3
from ldap3.utils.conv import escape_filter_chars
from radicale import auth, rights

# The radicale role's names and paths, shared with provision-dav-sync.
_config = configparser.ConfigParser(interpolation=None)
_config.read("/etc/provision/dav/radicale.conf", encoding="utf-8")
LDAP_URI = _config["directory"]["uri"]
PEOPLE = _config["directory"]["people"]
GROUPS = _config["directory"]["groups"]
GROUPS_ROOT = _config["collections"]["groups root"]
COMPANY_ROOT = _config["collections"]["company root"]
SHARES = _config["collections"]["shares"]
LOGINS = os.path.join(_config["collections"]["data"], "logins.json")  # written by provision-dav-sync
UID = re.compile(r"[a-z][a-z0-9._-]{0,31}")  # provision's login names
RESERVED = {GROUPS_ROOT, COMPANY_ROOT}
TIMEOUT = 10

# The groups of each person at their latest login: Radicale checks the login before
# the rights of every request, so the entry is always that request's.
_groups: dict[str, frozenset[str]] = {}
_lock = threading.Lock()


class _JsonFile:
    """A JSON file read again whenever it changes; {} while it is missing."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stamp: tuple[int, int] | None = None
        self.data: dict = {}

    def get(self) -> dict:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return {}
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp != self.stamp:
            with open(self.path, encoding="utf-8") as file:
                self.data, self.stamp = json.load(file), stamp
        return self.data


_logins = _JsonFile(LOGINS)
_shares = _JsonFile(SHARES)


def _uid(login: str) -> str | None:
    login = login.strip().lower()
    if "@" in login:
        login = _logins.get().get(login, "")
    return login if UID.fullmatch(login) and login not in RESERVED else None


def _member_of(connection: ldap3.Connection, uid: str) -> frozenset[str]:
    dn = escape_filter_chars(f"uid={uid},{PEOPLE}")
    connection.search(GROUPS, f"(&(objectClass=groupOfNames)(member={dn}))", attributes=["cn"])
    return frozenset(str(entry.cn.value) for entry in connection.entries if entry.cn.value)


class Auth(auth.BaseAuth):
    def _login(self, login: str, password: str) -> str:
        uid = _uid(login)
        if uid is None or not password:
            return ""
        connection = ldap3.Connection(ldap3.Server(LDAP_URI, connect_timeout=TIMEOUT),
                                      user=f"uid={uid},{PEOPLE}", password=password,
                                      receive_timeout=TIMEOUT)
        try:
            if not connection.bind():
                return ""
            groups = _member_of(connection, uid)
        finally:
            connection.unbind()
        with _lock:
            _groups[uid] = groups
        return uid


class Rights(rights.BaseRights):
    def authorization(self, user: str, path: str) -> str:
        if not user:
            return ""
        parts = [part for part in path.strip("/").split("/") if part]
        if not parts:
            return "R"  # the root: where clients start looking
        top, depth = parts[0], len(parts)
        if top == user:
            return "RW" if depth == 1 else "rw"
        if top == GROUPS_ROOT:
            if depth == 1:
                return "R"
            with _lock:
                member = parts[1] in _groups.get(user, frozenset())
            return ("RW" if depth == 2 else "rw") if member else ""
        if top == COMPANY_ROOT:
            return "R" if depth == 1 else "r"
        if depth >= 2:
            granted = _shares.get().get(f"{top}/{parts[1]}", {}).get(user, "")
            return granted if granted in ("r", "rw") else ""
        return ""
