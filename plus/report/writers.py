"""A small table model and its renderings: CSV (numbers), Markdown, LaTeX and HTML (mean +- sd, best in bold)."""

from __future__ import annotations

import csv
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from plus.io import atomic_path

MISSING_TEXT = "—"
ColumnKind = Literal["text", "stat", "scalar"]


@dataclass(frozen=True)
class Stat:
    """A value summarised over seeds: mean, sample sd (None for one seed or a published value), count."""

    mean: float
    sd: float | None = None
    n: int | None = None
    digits: int | None = None  # shown precision, when it differs from the table's (published values)
    marker: str = ""  # appended to the text (e.g. a significance dagger explained in the table's notes)

    def text(self, digits: int = 3) -> str:
        digits = self.digits if self.digits is not None else digits
        if math.isnan(self.mean):
            return "n/a" + self.marker
        if self.sd is None or math.isnan(self.sd):
            return f"{self.mean:.{digits}f}{self.marker}"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}{self.marker}"


Cell = Stat | str | None


@dataclass
class Table:
    """Rows of cells under named columns; `kinds` says how each column is rendered."""

    name: str
    title: str
    kinds: dict[str, ColumnKind]
    rows: list[dict[str, Cell]] = field(default_factory=list)
    best: set[tuple[int, str]] = field(default_factory=set)  # (row index, column) shown in bold
    notes: list[str] = field(default_factory=list)
    digits: int = 3

    @property
    def columns(self) -> list[str]:
        return list(self.kinds)

    def cell_text(self, row: int, column: str) -> str:
        value = self.rows[row].get(column)
        if value is None:
            return MISSING_TEXT
        if isinstance(value, Stat):
            return value.text(self.digits)
        return str(value)

    def mark_best(self, columns: list[str], group_by: str | None = None, higher_is_better: bool = True) -> None:
        """Mark the best mean of each column (within each group), ties at the shown precision included."""
        for column in columns:
            groups: dict[str, list[tuple[int, float]]] = {}
            for index, row in enumerate(self.rows):
                value = row.get(column)
                if isinstance(value, Stat) and not math.isnan(value.mean):
                    key = str(row.get(group_by)) if group_by else ""
                    groups.setdefault(key, []).append((index, round(value.mean, self.digits)))
            for members in groups.values():
                target = (max if higher_is_better else min)(v for _, v in members)
                self.best.update((index, column) for index, v in members if v == target)


def to_csv(table: Table) -> str:
    """Numbers, not text: a stat column becomes `<col>`, `<col> sd`, `<col> n`; `best_in` lists bold cells."""
    header: list[str] = []
    for column, kind in table.kinds.items():
        header += [column, f"{column} sd", f"{column} n"] if kind == "stat" else [column]
    if table.best:
        header.append("best_in")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for index, row in enumerate(table.rows):
        out: list[object] = []
        for column, kind in table.kinds.items():
            value = row.get(column)
            if kind == "stat":
                stat = value if isinstance(value, Stat) else None
                out += [
                    _csv_number(stat.mean) if stat else "",
                    _csv_number(stat.sd) if stat and stat.sd is not None else "",
                    stat.n if stat and stat.n is not None else "",
                ]
            elif isinstance(value, Stat):
                out.append(_csv_number(value.mean))
            else:
                out.append("" if value is None else value)
        if table.best:
            out.append(";".join(c for c in table.columns if (index, c) in table.best))
        writer.writerow(out)
    return buffer.getvalue()


def _csv_number(value: float) -> str:
    return repr(float(value))  # NaN is written as `nan`: an undefined metric, not a missing one


def to_markdown(table: Table, title: bool = True) -> str:
    """A GitHub-flavoured Markdown table (under its bold title) with best values in bold and notes below."""

    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"**{escape(table.title)}**", ""] if title else []
    lines += [
        "| " + " | ".join(escape(c) for c in table.columns) + " |",
        "|" + "|".join("---" if kind == "text" else "---:" for kind in table.kinds.values()) + "|",
    ]
    for index in range(len(table.rows)):
        cells = []
        for column in table.columns:
            text = escape(table.cell_text(index, column))
            cells.append(f"**{text}**" if (index, column) in table.best else text)
        lines.append("| " + " | ".join(cells) + " |")
    if table.notes:
        lines.append("")
        lines.extend(f"{note}  " for note in table.notes)
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "ρ": r"$\rho$",
    "Δ": r"$\Delta$",
    "—": "--",
    "–": "--",
    "≥": r"$\geq$",
    "†": r"$^\dagger$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(character, character) for character in text)


def to_latex(table: Table) -> str:
    """A booktabs `table` environment with best values in bold; notes as a footnote paragraph."""
    spec = "".join("l" if kind == "text" else "r" for kind in table.kinds.values())
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{latex_escape(table.title)}}}",
        rf"\label{{tab:{table.name}}}",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in table.columns) + r" \\",
        r"\midrule",
    ]
    for index in range(len(table.rows)):
        cells = []
        for column in table.columns:
            text = latex_escape(table.cell_text(index, column))
            cells.append(rf"\textbf{{{text}}}" if (index, column) in table.best else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.notes:
        lines.append(r"\par\footnotesize " + r" \\ ".join(latex_escape(note) for note in table.notes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


HTML_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1rem; color: #111; }
table.plus-table { border-collapse: collapse; font-size: 0.85rem; }
table.plus-table caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.4rem; }
table.plus-table th, table.plus-table td { padding: 0.2rem 0.6rem; border-bottom: 1px solid #ccc; }
table.plus-table th { border-bottom: 2px solid #333; text-align: left; vertical-align: bottom; }
table.plus-table td.number, table.plus-table th.number { text-align: right; font-variant-numeric: tabular-nums; }
table.plus-table tbody tr:nth-child(even) { background: #f4f4f4; }
p.plus-table-note { font-size: 0.75rem; margin: 0.2rem 0; max-width: 60rem; }
"""
HTML_TABLE_START = "<!-- table -->"
HTML_TABLE_END = "<!-- /table -->"
"""Markers around the `<table>` in the HTML page, so that the report's front page can embed it alone."""


def html_table(table: Table) -> str:
    """The table as an HTML `<table>` (title as caption, best values in bold), without its notes."""
    kinds = table.kinds

    def css(column: str) -> str:
        return ' class="number"' if kinds[column] != "text" else ""

    lines = [f'<table class="plus-table" id="table-{html.escape(table.name)}">']
    lines.append(f"<caption>{html.escape(table.title)}</caption>")
    lines.append("<thead><tr>" + "".join(f"<th{css(c)}>{html.escape(c)}</th>" for c in table.columns) + "</tr></thead>")
    lines.append("<tbody>")
    for index in range(len(table.rows)):
        cells = []
        for column in table.columns:
            text = html.escape(table.cell_text(index, column))
            text = f"<strong>{text}</strong>" if (index, column) in table.best else text
            cells.append(f"<td{css(column)}>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def to_html(table: Table) -> str:
    """A standalone HTML page: the table, then its notes (what the HTML report shows inline)."""
    notes = "".join(f'<p class="plus-table-note">{html.escape(note)}</p>\n' for note in table.notes)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(table.title)}</title>\n'
        f"<style>{HTML_STYLE}</style>\n</head>\n<body>\n"
        f"{HTML_TABLE_START}\n{html_table(table)}\n{HTML_TABLE_END}\n{notes}</body>\n</html>\n"
    )


def write_table(table: Table, directory: Path) -> list[Path]:
    """Write `<name>.csv`, `.md`, `.tex` and `.html` into `directory`, each atomically."""
    written = []
    for suffix, render in (("csv", to_csv), ("md", to_markdown), ("tex", to_latex), ("html", to_html)):
        path = directory / f"{table.name}.{suffix}"
        with atomic_path(path) as tmp:
            tmp.write_text(render(table))
        written.append(path)
    return written
