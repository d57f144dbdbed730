"""HTML pages of plotly figures: one writer for findings, the transfer and permutation commands and the report.

plotly.js is 4.6 MB: pages kept together link one shared copy (`plotly.min.js` in a folder they share); a page
written on its own embeds it once, so it opens offline wherever it is copied.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasets.atomic import make_folder, write_text

PLOTLY_FILE = "plotly.min.js"


def write_plotly_js(folder: Path) -> Path:
    """`folder/plotly.min.js`, the plotly.js of the installed plotly (rewritten only when it differs)."""
    from plotly.offline import get_plotlyjs

    make_folder(folder)
    path, script = folder / PLOTLY_FILE, get_plotlyjs()
    if not path.is_file() or path.stat().st_size != len(script.encode()):
        write_text(path, script)
    return path


def write_figures_page(path: Path, figures: Sequence[Any], title: str, shared_script: Path | None = None) -> Path:
    """`figures` on one page at `path`; with `shared_script` (a folder) plotly.js is written there once and linked
    relatively, without it the page embeds plotly.js."""
    make_folder(path.parent)
    head = f"<meta charset='utf-8'><title>{title}</title>"
    if shared_script is not None:
        script = write_plotly_js(shared_script)
        head += f"<script src='{Path(os.path.relpath(script, path.parent)).as_posix()}'></script>"
    parts = "".join(figure.to_html(full_html=False, include_plotlyjs=shared_script is None and index == 0)
                    for index, figure in enumerate(figures))
    write_text(path, f"<html><head>{head}</head><body>{parts}</body></html>")
    return path
