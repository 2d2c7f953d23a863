"""Console output: summary tables on stdout, logs and progress bars on stderr."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True)


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = RichHandler(console=stderr, show_path=False, show_time=False, rich_tracebacks=False)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries we drive are chatty at INFO; their warnings still show.
    for name in (
        "lm_eval",
        "lm-eval",
        "datasets",
        "httpx",
        "urllib3",
        "filelock",
        "fsspec",
        "transformers",
        "huggingface_hub",
    ):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def summary_table(
    title: str, columns: list[str], rows: Iterable[Iterable[Any]], footer: list[Any] | None = None
) -> dict:
    """A table as plain data, so it can live in a manifest and be re-printed on a cache hit."""
    return {"title": title, "columns": columns, "rows": [list(r) for r in rows], "footer": footer}


def print_summary(summary: dict | None, console: Console = stdout) -> None:
    if not summary:
        return
    table = Table(title=summary.get("title"), show_footer=bool(summary.get("footer")))
    footer = summary.get("footer") or [""] * len(summary["columns"])
    for column, foot in zip(summary["columns"], footer, strict=False):
        numeric = all(
            isinstance(r[summary["columns"].index(column)], (int, float)) for r in summary["rows"] if r
        )
        table.add_column(
            column, justify="right" if numeric and summary["rows"] else "left", footer=_fmt(foot)
        )
    for row in summary["rows"]:
        table.add_row(*(_fmt(v) for v in row))
    console.print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def progress(iterable=None, total: int | None = None, desc: str = "", enabled: bool = True, unit: str = "it"):
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        disable=not enabled,
        unit=unit,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )
