"""Self-contained HTML reports (pictures embedded as base64 PNG) that a forester can read.

* :func:`write_accuracy_report` - a finished map against reference data (assessaccuracy).
* the building blocks every report shares (tables, confusion matrix); the training and
  feature-set comparison reports are in ``core.training_report``.

matplotlib (Agg backend) draws the pictures; it is imported inside the functions, so this
module can be imported without it. No qgis import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .html_page import escape, figure_png, key_value_table, page, pyplot, write_page


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f} %"


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def confusion_heatmap(matrix: Sequence[Sequence[float]], labels: Sequence[str],
                      title: str = "Confusion matrix") -> str:
    """Heat-map of a confusion matrix (rows reference, columns predicted) as an ``<img>`` tag.

    Colours show each row's share (producer's view), numbers the pixel counts.
    """
    import numpy as np

    plt = pyplot()
    counts = np.asarray(matrix, dtype=float)
    row_sums = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
    n = len(labels)
    size = max(4.5, 0.62 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(shares, cmap="Greens", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels=labels, rotation=40, ha="right")
    ax.set_yticks(range(n), labels=labels)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("Reference class")
    ax.set_title(title)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.55 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the reference class")
    return figure_png(fig)




def _metrics_summary(metrics: Mapping[str, Any], what: str = "test") -> str:
    return (
        '<table class="big"><tr><th class="l">Overall accuracy</th><td>'
        f'{_pct(metrics.get("overall_accuracy"))}</td></tr>'
        f'<tr><th class="l">Cohen\'s kappa</th><td>{_num(metrics.get("kappa"))}</td></tr>'
        f'<tr><th class="l">Macro F1 (mean over classes)</th><td>{_num(metrics.get("macro_f1"))}</td></tr>'
        f'<tr><th class="l">{what.capitalize()} pixels</th>'
        f'<td>{escape(metrics.get("n_samples", "n/a"))}</td></tr>'
        "</table>"
        f'<p class="small">Overall accuracy: share of {what} pixels classified correctly. Kappa: '
        "agreement beyond chance (0 = chance, 1 = perfect). Macro F1: the mean of the per-class "
        "F1 scores, so that small classes count as much as large ones.</p>")


def _per_class_table(metrics: Mapping[str, Any], colors: Mapping[int, str],
                     user_producer: bool = False) -> str:
    rows = []
    for entry in metrics.get("per_class", []):
        code = int(entry["code"])
        swatch = f'<span class="swatch" style="background:{escape(colors.get(code, "#ffffff"))}"></span>'
        rows.append(
            f'<tr><td>{code}</td><td class="l">{swatch} {escape(entry.get("name", ""))}</td>'
            f'<td>{_num(entry.get("precision"))}</td><td>{_num(entry.get("recall"))}</td>'
            f'<td>{_num(entry.get("f1"))}</td><td>{escape(entry.get("support", ""))}</td></tr>')
    if user_producer:
        head = ("<th>User's accuracy<br><span class=small>(precision)</span></th>"
                "<th>Producer's accuracy<br><span class=small>(recall)</span></th>")
    else:
        head = "<th>Precision<br><span class=small>(user's acc.)</span></th>" \
               "<th>Recall<br><span class=small>(producer's acc.)</span></th>"
    return ('<table><tr><th>Code</th><th class="l">Class</th>' + head +
            "<th>F1</th><th>Reference pixels</th></tr>" + "".join(rows) + "</table>"
            '<p class="small">Precision / user\'s accuracy: of the pixels mapped as this class, the '
            "share that really is it. Recall / producer's accuracy: of the pixels that really are "
            "this class, the share the map finds. F1: their harmonic mean.</p>")


def _confusion_table(confusion: Mapping[str, Any]) -> str:
    codes = list(confusion.get("codes", []))
    names = list(confusion.get("names", [str(c) for c in codes]))
    matrix = confusion.get("matrix", [])
    head = "".join(f"<th>{escape(n)}<br><span class=small>{escape(c)}</span></th>"
                   for c, n in zip(codes, names, strict=True))
    body = []
    for i, (code, name) in enumerate(zip(codes, names, strict=True)):
        cells = "".join(f'<td{" class=diag" if i == j else ""}>{int(v)}</td>'
                        for j, v in enumerate(matrix[i]))
        body.append(f'<tr><th class="l">{escape(name)} <span class=small>{escape(code)}</span></th>{cells}'
                    f"<td>{int(sum(matrix[i]))}</td></tr>")
    totals = "".join(f"<td>{int(sum(row[j] for row in matrix))}</td>" for j in range(len(codes)))
    return ('<table><tr><th class="l">Reference \\ predicted</th>' + head + "<th>Total</th></tr>" +
            "".join(body) + f'<tr><th class="l">Total</th>{totals}<td></td></tr></table>')


def _confusion_section(metrics: Mapping[str, Any]) -> str:
    confusion = metrics.get("confusion_matrix") or {}
    if not confusion.get("matrix"):
        return ""
    labels = [f"{n} ({c})" for c, n in zip(confusion["codes"], confusion.get("names",
              confusion["codes"]), strict=True)]
    return ("<h2>Confusion matrix</h2><p>Rows: reference class; columns: class in the map. "
            "The diagonal holds the correctly classified pixels.</p>" + _confusion_table(confusion) +
            confusion_heatmap(confusion["matrix"], labels))








def write_accuracy_report(html_path: str | os.PathLike, metrics: Mapping[str, Any],
                          info: Mapping[str, Any] | None = None) -> str:
    """Write the accuracy report of a finished map against reference data.

    Parameters
    ----------
    metrics : dict
        Metrics dict (docs/DESIGN.md), rows of the confusion matrix = reference.
    info : dict, optional
        Shown as "Data": map, reference layer, code field, sample counts...
    """
    info = dict(info or {})
    colors = {int(c): col for c, col in (info.pop("colors", None) or {}).items()}
    body = [
        "<h2>Data</h2>", key_value_table(info),
        "<h2>Result</h2>", _metrics_summary(metrics, "reference"),
        "<h2>Accuracy per class</h2>", _per_class_table(metrics, colors, user_producer=True),
        _confusion_section(metrics),
        '<p class="note">Reference pixels inside one polygon are not independent samples; if the '
        "reference polygons were also used for training, these figures overstate the map's "
        "accuracy. Use reference data the model has not seen.</p>",
    ]
    return write_page(html_path, page("Land cover map: accuracy assessment", "".join(body)))

