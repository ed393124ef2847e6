"""Where each part lives inside an archive (paths relative to its root, '/'-separated)."""

from __future__ import annotations

from provision.archive.names import folder_dirname, safe_name

INDEX = "index.jsonl"
USERS = "users"
DIRECTORY = "directory"
LDIF = f"{DIRECTORY}/directory.ldif"

# Columns of the directory tables, in order; several values in one cell are separated by spaces.
TABLES = {
    "users": ("email", "display_name", "given_name", "surname", "quota_bytes", "enabled"),
    "groups": ("email", "display_name", "members"),
    "aliases": ("alias", "target"),
    "shared-mailboxes": ("email", "display_name", "members"),
}
COLLECTION_DIRS = {
    "calendar": ("calendars", ".ics"),
    "tasks": ("tasks", ".ics"),
    "contacts": ("contacts", ".vcf"),
}


def table_path(kind: str) -> str:
    return f"{DIRECTORY}/{kind}.csv"


def user_path(name: str) -> str:
    return f"{USERS}/{safe_name(name)}"


def folder_path(user: str, folder: str) -> str:
    return "/".join(filter(None, [user, "Maildir", folder_dirname(folder)]))


def collection_path(user: str, collection: str, name: str) -> str:
    directory, suffix = COLLECTION_DIRS[collection]
    return f"{user}/{directory}/{safe_name(name, suffix)}"


def sieve_path(user: str, name: str) -> str:
    return f"{user}/sieve/{safe_name(name, '.sieve')}"
