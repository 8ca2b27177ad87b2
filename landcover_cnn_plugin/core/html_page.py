"""The pieces every HTML report of the plugin is made of: one self-contained page (style sheet
inline, pictures embedded as base64 PNG), escaped text, key-value tables, matplotlib figures.

``core.report`` (training, accuracy, comparison) and ``core.area_report`` (area estimates of a
probability sample) build their sections from these. matplotlib is imported inside the functions
(Agg backend), so importing this module needs neither matplotlib nor a display. No qgis import.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping
from typing import Any

from .atomic import atomic_output

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2em auto;
max-width:62em;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;border-bottom:2px solid #2e7d32;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.6em;color:#2e7d32}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f1f5f1} td.l,th.l{text-align:left}
.swatch{display:inline-block;width:1.1em;height:1.1em;border:1px solid #555;vertical-align:middle}
.big{font-size:1.15em} .note{background:#fff8e1;border-left:4px solid #f9a825;padding:.5em .8em}
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.5em .8em}
img{max-width:100%} td.diag{background:#e8f5e9;font-weight:bold} .small{color:#666;font-size:.85em}
"""


def escape(value: Any) -> str:
    """``value`` as HTML text (``<``, ``&`` and quotes escaped)."""
    return html.escape(str(value))


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> str:
    """A matplotlib figure as an ``<img>`` tag with the PNG embedded (base64); the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return png_img(buffer.getvalue())


def png_img(png: bytes, alt: str = "figure") -> str:
    """PNG bytes as an ``<img>`` tag with the picture embedded (base64)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def key_value_table(items: Mapping[str, Any]) -> str:
    """A two-column table of names and values; empty values (None, '', [], {}) are left out."""
    rows = "".join(f'<tr><th class="l">{escape(k)}</th><td class="l">{escape(v)}</td></tr>'
                   for k, v in items.items() if v not in (None, "", [], {}))
    return f"<table>{rows}</table>"


def page(title: str, body: str) -> str:
    """A complete HTML document: ``title`` as heading, ``body`` (HTML) under it."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>{body}"
            '<p class="small">Written by the landcover-cnn QGIS plugin.</p></body></html>\n')


def write_page(path: str | os.PathLike, text: str) -> str:
    """Write an HTML document atomically (UTF-8); return the path."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    return os.fspath(path)
