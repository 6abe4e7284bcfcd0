"""The two Jinja environments the reports are rendered in: Markdown (escaped through refute.report.escape,
no autoescape: it is not HTML) and HTML (autoescape: every value shown as text). Each styles a view
model's `Span`s its own way."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape as html_escape

from refute.report import escape
from refute.report.view import Span


def md_text(text: list[Span] | str) -> str:
    if isinstance(text, str):
        return text
    style = {"": str, "user": escape.inline, "code": escape.code, "strong": lambda t: f"**{t}**"}
    return "".join(style[s.style](s.text) for s in text)


def html_text(text: list[Span] | str) -> Markup:
    if isinstance(text, str):
        return html_escape(text)
    tag = {"": "", "user": "", "code": "code", "strong": "b"}
    return Markup("").join(Markup(f"<{tag[s.style]}>{html_escape(s.text)}</{tag[s.style]}>") if tag[s.style]
                           else html_escape(s.text) for s in text)


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


@lru_cache(maxsize=None)
def environment(kind: str):
    from jinja2 import Environment, PackageLoader, StrictUndefined

    if kind == "md":
        env = Environment(loader=PackageLoader("refute.report", "templates"), autoescape=False,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.filters.update(md=md_text, inline=escape.inline, block=escape.block, code=escape.code)
    else:
        env = Environment(loader=PackageLoader("refute.report", "templates"), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters.update(html=html_text, data_uri=data_uri)
    return env


def render_page(template: str, **context) -> str:
    """Render a package template: Markdown for `*.md.j2`, HTML otherwise."""
    return environment("md" if template.endswith(".md.j2") else "html").get_template(template).render(**context)
