"""Modified UTF-7 (RFC 3501 §5.1.3), the encoding of mailbox names on the IMAP wire."""

from __future__ import annotations

import base64


def encode(text: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in text:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode(text: str) -> str:
    """The name as text; a malformed shift sequence is kept as it was (servers do send such names)."""
    out: list[str] = []
    position = 0
    while position < len(text):
        start = text.find("&", position)
        if start < 0:
            out.append(text[position:])
            break
        out.append(text[position:start])
        end = text.find("-", start)
        if end < 0:
            out.append(text[start:])
            break
        coded = text[start + 1:end]
        if not coded:
            out.append("&")
        else:
            try:
                raw = base64.b64decode(coded.replace(",", "/") + "=" * (-len(coded) % 4))
                out.append(raw.decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                out.append(text[start:end + 1])
        position = end + 1
    return "".join(out)
