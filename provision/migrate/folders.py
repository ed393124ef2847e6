"""Folder names between servers: wire names (modified UTF-7, a server's delimiter and namespace prefix)
to archive names ('/'-separated), and special folders to one role name whatever the source's language.

Gmail shows labels as folders: a message with two labels is in two folders and lands in both, as on
Gmail. Its virtual views (All Mail, Starred, Important) repeat messages that are in real folders and
are not copied as folders; see copier for the archived messages only All Mail holds."""

from __future__ import annotations

from dataclasses import dataclass

from provision import mutf7

# RFC 6154 roles copied as folders, and the name each gets at a target that does not announce its own.
ROLES = {"\\Sent": "Sent", "\\Drafts": "Drafts", "\\Trash": "Trash", "\\Junk": "Junk", "\\Archive": "Archive"}
ALL = "\\All"
VIRTUAL = {ALL, "\\Flagged", "\\Important"}  # views of messages held in real folders
# Names providers and clients give special folders when the server announces no SPECIAL-USE.
LOCALIZED = {
    "\\Sent": ["Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet", "Gesendete Objekte",
               "Gesendete Elemente", "Gesendete Nachrichten", "[Gmail]/Sent Mail", "[Google Mail]/Gesendet",
               "Envoyés", "Éléments envoyés", "Posta inviata", "Elementos enviados", "Verzonden items"],
    "\\Drafts": ["Drafts", "Entwürfe", "[Gmail]/Drafts", "[Google Mail]/Entwürfe", "Brouillons", "Bozze",
                 "Borradores", "Concepten"],
    "\\Trash": ["Trash", "Deleted Items", "Deleted Messages", "Papierkorb", "Gelöschte Objekte",
                "Gelöschte Elemente", "[Gmail]/Trash", "[Gmail]/Bin", "[Google Mail]/Papierkorb",
                "Corbeille", "Éléments supprimés", "Cestino", "Papelera", "Verwijderde items"],
    "\\Junk": ["Junk", "Junk E-mail", "Junk Email", "Junk-E-Mail", "Spam", "[Gmail]/Spam",
               "[Google Mail]/Spam", "Courrier indésirable", "Posta indesiderata", "Correo no deseado"],
    "\\Archive": ["Archive", "Archiv", "Archives", "Archivio", "Archivo"],
}
_BY_NAME = {name.casefold(): role for role, names in LOCALIZED.items() for name in names}
GMAIL_VIRTUAL_NAMES = {"[gmail]/all mail", "[gmail]/starred", "[gmail]/important",
                       "[google mail]/alle nachrichten"}


@dataclass(frozen=True)
class Folder:
    """A folder as the copier sees it: its archive name, and how its server spells and marks it."""

    name: str  # archive form: '/'-separated, INBOX in capitals, special folders by role name
    wire: str  # the name on the wire (modified UTF-7 for IMAP)
    special_use: str | None = None


@dataclass(frozen=True)
class Listed:
    """One line of an IMAP LIST answer."""

    wire: str
    delimiter: str | None
    attributes: frozenset[str]

    @property
    def selectable(self) -> bool:
        return not {"\\noselect", "\\nonexistent"} & {item.lower() for item in self.attributes}

    @property
    def special_use(self) -> str | None:
        for attribute in self.attributes:
            for role in [*ROLES, *VIRTUAL]:
                if attribute.lower() == role.lower():
                    return role
        return None


def plain_name(listed: Listed, prefix: str) -> str:
    """The archive form of a wire name: decoded, namespace prefix dropped, delimiter made '/'."""
    text = mutf7.decode(listed.wire)
    if prefix and text.startswith(prefix) and text.upper() != "INBOX":
        text = text[len(prefix):]
    delimiter = listed.delimiter or "/"
    parts = text.split(delimiter)
    if delimiter != "/":
        parts = [part.replace("/", "_") for part in parts]
    parts = [part for part in parts if part] or ["INBOX"]
    if parts[0].upper() == "INBOX":
        parts[0] = "INBOX"
    return "/".join(parts)


def role_of(name: str, announced: str | None) -> str | None:
    if announced:
        return announced
    return _BY_NAME.get(name.casefold())


def source_folders(listing: list[Listed], prefix: str) -> list[Folder]:
    """The folders to copy, special ones renamed to their role (children follow their parent)."""
    renamed: dict[str, str] = {}  # a special folder's plain name -> its role name
    for listed in listing:
        role = role_of(plain_name(listed, prefix), listed.special_use)
        if role in ROLES:
            renamed[plain_name(listed, prefix)] = ROLES[role]
    folders = []
    for listed in listing:
        name = plain_name(listed, prefix)
        role = role_of(name, listed.special_use)
        if not listed.selectable or role in VIRTUAL or name.casefold() in GMAIL_VIRTUAL_NAMES:
            continue
        folders.append(Folder(_rename(name, renamed), listed.wire, role if role in ROLES else None))
    return _unique(folders)


def _rename(name: str, renamed: dict[str, str]) -> str:
    """Replace the longest leading part that is a special folder by its role name."""
    parts = name.split("/")
    for cut in range(len(parts), 0, -1):
        head = "/".join(parts[:cut])
        if head in renamed:
            return "/".join([renamed[head], *parts[cut:]])
    return name


def _unique(folders: list[Folder]) -> list[Folder]:
    """Two source folders mapping to one name (Sent and Sent Items) both land there; the copier keeps
    bytes once per folder, so nothing doubles."""
    return sorted(folders, key=lambda folder: (folder.name != "INBOX", folder.name, folder.wire))


def wire_name(name: str, delimiter: str, prefix: str) -> str:
    """The wire form of an archive name on a server with this delimiter and personal namespace prefix."""
    if name == "INBOX":
        return "INBOX"
    parts = name.split("/")
    if parts[0] == "INBOX":
        return mutf7.encode(delimiter.join(parts))
    return mutf7.encode(prefix + delimiter.join(part.replace(delimiter, "_") for part in parts))
