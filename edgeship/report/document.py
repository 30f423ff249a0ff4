"""A small document model (headings, paragraphs, tables, figures) rendered to Markdown and to HTML."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import TypeAlias


@dataclass
class Heading:
    """A section title; level 1 is the document title."""

    text: str
    level: int = 2


@dataclass
class Paragraph:
    """Plain text; `code` spans are written between backticks."""

    text: str


@dataclass
class Table:
    """Rows of cells under headers; `numeric` marks right-aligned columns."""

    headers: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)


@dataclass
class Figure:
    """A PNG image stored at `path` (relative to the report) and embedded in the HTML."""

    caption: str
    path: str
    png: bytes


Block: TypeAlias = Heading | Paragraph | Table | Figure


def to_markdown(blocks: list[Block]) -> str:
    """GitHub-flavoured Markdown; figures link to their PNG files."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(_markdown_table(block))
        else:
            parts.append(f"![{block.caption}]({block.path})\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"


def _markdown_table(table: Table) -> str:
    def cells(values: list[str]) -> str:
        return "| " + " | ".join(value.replace("|", "\\|") for value in values) + " |"

    rule = ["---:" if index in table.numeric else "---" for index in range(len(table.headers))]
    return "\n".join([cells(table.headers), "|" + "|".join(rule) + "|", *(cells(row) for row in table.rows)])


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; }
figcaption { color: #555; font-style: italic; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""


def to_html(blocks: list[Block], title: str) -> str:
    """One self-contained HTML page: inline CSS, figures embedded as base64 PNG."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline_code(block.text)}</p>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        else:
            encoded = base64.b64encode(block.png).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(block.caption)}" src="data:image/png;base64,{encoded}">'
                f"<figcaption>{html.escape(block.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _inline_code(text: str) -> str:
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{piece}</code>" if index % 2 else piece for index, piece in enumerate(pieces))


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(header)}</th>" for header in table.headers)
    rows = []
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{html.escape(cell)}</td>'
            if index in table.numeric
            else f"<td>{html.escape(cell)}</td>"
            for index, cell in enumerate(row)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
