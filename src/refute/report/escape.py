"""User text in a Markdown report: shown as written, never read as HTML, links, code, headings or tables.

A hypothesis's title, statement, descriptions and file name are free text. Unescaped, `<script>` or
`<img onerror=...>` would run in any viewer that renders raw HTML, `[x](javascript:...)` would make a
link, a newline followed by `## Verdict: SUPPORTED` would forge a heading, and a `|` would break a table.
A bare address (`https://...`, `www.`) would become a link on GitHub: it is shown as code, which no
renderer turns into a link.

Text is escaped for Markdown, not HTML, so the file reads as written (`acc >= 0.9`, not `acc &gt;= 0.9`): a
backslash goes only before a character that would start markup there. A `<` that would open a tag and an `&`
that would form an entity are written as `&lt;` and `&amp;` instead: Python-Markdown (MkDocs) does not honour
a backslash before them, every renderer honours the entity.
"""

from __future__ import annotations

import re

# Backslash escapes, code spans, emphasis, links and images, table cells; `_` only where it could open or close
# emphasis (not inside a word: val_acc stays as it is).
_INLINE = re.compile(r"[\\`*\[\]|]|(?<![^\W_])_|_(?![^\W_])")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # an HTML tag, comment or declaration, or an autolink
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # an entity: &gt; &#60;
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")  # "1." or "1)" would start a numbered list
_BLOCK_MARK = re.compile(r"^([#>+=*-])")  # a heading, quote, bullet, rule or setext underline
_ADDRESS = re.compile(r"(?i)\b(?:(?:https?|ftp)://|www\.)\S+")  # what GitHub would autolink


def _escaped(text: str) -> str:
    text = _INLINE.sub(lambda m: "\\" + m.group(0), text)
    return _TAG.sub("&lt;", _ENTITY.sub("&amp;", text))


def _text(line: str, in_table: bool) -> str:
    # Addresses become code spans (a `|` inside one is escaped, as a table cell needs); the rest is escaped text.
    out, at = [], 0
    for m in _ADDRESS.finditer(line):
        out.append(_escaped(line[at:m.start()]))
        address = code(m.group(0))
        out.append(address.replace("|", "\\|") if in_table else address)
        at = m.end()
    out.append(_escaped(line[at:]))
    return "".join(out)


def inline(text: object) -> str:
    """One line of user text, safe anywhere in a line, table cells included."""
    return _text(" ".join(str(text).split()), in_table=True)


def block(text: object, prefix: str = "") -> str:
    """Several lines of user text, each starting with `prefix` (e.g. "> " for a quote), kept as text."""
    lines = []
    for line in str(text).strip().splitlines() or [""]:
        safe = _text(line.strip(), in_table=False)
        safe = _BLOCK_MARK.sub(r"\\\1", _LIST_NUMBER.sub(r"\1\\\2", safe))
        lines.append((prefix + safe).rstrip())
    return "\n".join(lines)


def code(text: object) -> str:
    """User text as an inline code span (a file name, say): a fence longer than any backtick run inside."""
    one_line = " ".join(str(text).split())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", one_line)), default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"
