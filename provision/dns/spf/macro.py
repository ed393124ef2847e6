"""SPF macros (RFC 7208 §7): parsing a macro-string and expanding it for one check_host() call."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

# Letters allowed everywhere, and those allowed only in explanation text (§7.2).
LETTERS = frozenset("slodiphv")
EXPLANATION_LETTERS = frozenset("crt")
ESCAPES = {"%": "%", "_": " ", "-": "%20"}
MAX_DOMAIN = 253

_EXPAND = re.compile(r"%\{([A-Za-z])(\d*)([rR]?)([.\-+,/_=]*)\}")


class MacroError(ValueError):
    """A macro-string that does not follow the RFC 7208 §7.1 grammar."""


@dataclass(frozen=True)
class Macro:
    """One %{...} expansion."""

    letter: str  # lower case
    digits: int | None  # keep this many right-hand parts
    reverse: bool
    delimiters: str  # split on these; "." when none are given
    escape: bool  # an upper-case letter asks for URL escaping of the result


@dataclass(frozen=True)
class MacroString:
    """A parsed macro-string: literal text and macros, in order."""

    text: str
    tokens: tuple[str | Macro, ...]
    ends_with_expand: bool  # the grammar's domain-end accepts a trailing macro-expand

    @property
    def has_macros(self) -> bool:
        return any(isinstance(token, Macro) for token in self.tokens)


def parse_macro_string(text: str, *, explanation: bool = False) -> MacroString:
    """Parse text; explanation=True allows spaces and the c, r and t letters (exp= TXT text)."""
    tokens: list[str | Macro] = []
    ends_with_expand = False
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "%":
            token, pos = _parse_percent(text, pos, explanation)
            tokens.append(token)
            ends_with_expand = True
            continue
        if not ("\x21" <= char <= "\x7e" or (explanation and char == " ")):
            raise MacroError(f"character {char!r} is not allowed in {text!r}")
        tokens.append(char)
        ends_with_expand = False
        pos += 1
    return MacroString(text, tuple(_merge_literals(tokens)), ends_with_expand)


def _parse_percent(text: str, pos: int, explanation: bool) -> tuple[str | Macro, int]:
    escaped = ESCAPES.get(text[pos + 1 : pos + 2])
    if escaped is not None:
        return escaped, pos + 2
    match = _EXPAND.match(text, pos)
    if match is None:
        raise MacroError(f"bad macro at {text[pos:]!r}")
    letter, digits, reverse, delimiters = match.groups()
    allowed = LETTERS | EXPLANATION_LETTERS if explanation else LETTERS
    if letter.lower() not in allowed:
        raise MacroError(f"unknown macro letter {letter!r}")
    if digits and int(digits) == 0:
        raise MacroError(f"zero parts in {match[0]!r}")
    macro = Macro(
        letter.lower(), int(digits) if digits else None, bool(reverse), delimiters, letter.isupper()
    )
    return macro, match.end()


def _merge_literals(tokens: list[str | Macro]) -> list[str | Macro]:
    merged: list[str | Macro] = []
    for token in tokens:
        if isinstance(token, str) and merged and isinstance(merged[-1], str):
            merged[-1] += token
        else:
            merged.append(token)
    return merged


@dataclass
class MacroContext:
    """The values the macro letters stand for during one check_host() evaluation."""

    sender: str
    local_part: str
    sender_domain: str
    domain: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    helo: str
    # %{p} costs DNS queries, so it is only looked up when a record uses it.
    validated_name: Callable[[], str] = lambda: "unknown"
    receiver: str = "unknown"
    now: Callable[[], float] = field(default=time.time)


def expand(macro_string: MacroString, context: MacroContext) -> str:
    """The text of macro_string with every macro replaced by its value."""
    return "".join(
        token if isinstance(token, str) else _expand_macro(token, context) for token in macro_string.tokens
    )


def _expand_macro(macro: Macro, context: MacroContext) -> str:
    parts = re.split("[" + re.escape(macro.delimiters or ".") + "]", _value(macro.letter, context))
    if macro.reverse:
        parts.reverse()
    if macro.digits is not None:
        parts = parts[-macro.digits :]
    value = ".".join(parts)
    return quote(value, safe="") if macro.escape else value


def _value(letter: str, context: MacroContext) -> str:
    ip = context.ip
    match letter:
        case "s":
            return context.sender
        case "l":
            return context.local_part
        case "o":
            return context.sender_domain
        case "d":
            return context.domain
        case "i":
            # IPv6 is written as dot-separated nibbles, as in the RFC's %{ir}.%{v} example.
            return str(ip) if ip.version == 4 else ".".join(f"{ip.packed.hex():0>32}".upper())
        case "p":
            return context.validated_name()
        case "v":
            return "in-addr" if ip.version == 4 else "ip6"
        case "h":
            return context.helo
        case "c":
            return str(ip)
        case "r":
            return context.receiver
        case _:  # "t", the only letter left after parsing
            return str(int(context.now()))


def truncate_domain(domain: str) -> str:
    """Drop labels from the left until the name fits in 253 characters (§7.3)."""
    while len(domain) > MAX_DOMAIN and "." in domain:
        domain = domain.split(".", 1)[1]
    return domain
