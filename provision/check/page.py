"""The look of every page a customer reads (the check report, the status page): one style sheet, on
screen and on paper.

Long values (DKIM keys, SPF records) wrap anywhere instead of widening the page; tables have a fixed
layout so a long cell cannot push the others off the page; printing drops the screen's width limit,
keeps a row or a finding on one page and keeps the status colours.
"""

from __future__ import annotations

import html

STYLE = """
:root{--ok:#e3f2e3;--warn:#fff1cc;--crit:#fbdcdc;--unknown:#ececec;--line:#c8c8c8}
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;line-height:1.45;color:#1d1d1d;
  max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin-top:1.6rem}h3{font-size:1.05rem}
.meta{color:#555;margin:0 0 1rem}
.verdict{border-left:.4rem solid var(--line);padding:.6rem .9rem;font-size:1.05rem}
.verdict.OK{border-color:#3a8a3a}.verdict.WARN{border-color:#c99700}
.verdict.CRIT{border-color:#b52020}.verdict.UNKNOWN{border-color:#888}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
th,td,li,p,code,h1,h3{overflow-wrap:anywhere;word-break:break-word}
code{font-family:"DejaVu Sans Mono",monospace;font-size:.9em;white-space:pre-wrap}
col.status{width:7.5rem}col.id{width:13rem}
@media (max-width:40rem){body{padding:.5rem}col.status{width:5rem}col.id{width:8rem}th,td{padding:.2rem}}
ul.findings{padding-left:0;list-style:none}
ul.findings li{border:1px solid var(--line);border-left-width:.4rem;margin:.5rem 0;padding:.4rem .7rem}
.OK{background:var(--ok)}.WARN{background:var(--warn)}.CRIT{background:var(--crit)}
.UNKNOWN{background:var(--unknown)}
li.OK,li.WARN,li.CRIT,li.UNKNOWN,.verdict{background:none}
li.WARN{border-left-color:#c99700}li.CRIT{border-left-color:#b52020}li.UNKNOWN{border-left-color:#888}
.fix{margin-top:.3rem}
footer{margin-top:2rem;color:#555;font-size:.9rem}
@page{size:A4;margin:16mm 14mm}
@media print{
  body{max-width:none;padding:0;font-size:10pt}
  h2,h3{break-after:avoid}
  tr,li,.verdict{break-inside:avoid}
  thead{display:table-header-group}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def page(title: str, language: str, body: str) -> str:
    """A whole HTML document in the shared look; body is HTML already escaped."""
    return (f'<!DOCTYPE html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")
