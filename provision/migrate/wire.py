"""Parsing IMAP responses as imaplib hands them over: lines with literals cut out as (line, bytes) pairs.

imaplib leaves FETCH and LIST answers half parsed; this turns them into Python values: atoms and quoted
strings as str, literals as bytes, parenthesised lists as lists, NIL as None."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# ( ) "quoted" {literal}$ or an atom, which may carry a [section] with spaces and a <partial>
_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\+?\}$'
                    rb'|([^\s()"\[\]]+(?:\[[^\]]*\](?:<[\d.]+>)?)?))')


def tokens(data: list[Any]) -> Iterator[Any]:
    """Tokens of an imaplib answer: '(' and ')' as such, strings, literal bytes, None for NIL."""
    for element in data:
        if element is None:
            continue
        if isinstance(element, tuple):
            yield from _line(element[0])
            yield bytes(element[1])
        else:
            yield from _line(element)


def _line(text: bytes) -> Iterator[Any]:
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if not found or found.end() == position:
            if text[position:].strip():
                raise ValueError(f"cannot parse IMAP response near {text[position:position + 40]!r}")
            return
        position = found.end()
        opening, closing, quoted, literal, atom = found.groups()
        if opening:
            yield "("
        elif closing:
            yield ")"
        elif quoted is not None:
            yield re.sub(rb"\\(.)", rb"\1", quoted).decode("utf-8", errors="replace")
        elif literal is not None:
            continue  # the literal's bytes follow as their own token
        elif atom is not None:
            word = atom.decode("utf-8", errors="replace")
            yield None if word.upper() == "NIL" else word


def values(data: list[Any]) -> list[Any]:
    """All top-level values of an answer, lists nested."""
    stack: list[list[Any]] = [[]]
    for token in tokens(data):
        if token == "(":
            stack.append([])
        elif token == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    return stack[0]


def fetch_items(data: list[Any]) -> Iterator[dict[str, Any]]:
    """One dict per message of a FETCH answer: item name in capitals -> value."""
    found = values(data)
    for position in range(0, len(found) - 1, 2):
        pairs = found[position + 1]
        if isinstance(pairs, list):
            yield {str(pairs[i]).upper(): pairs[i + 1] for i in range(0, len(pairs) - 1, 2)}


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
