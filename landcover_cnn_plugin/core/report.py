"""Self-contained HTML reports (pictures embedded as base64 PNG) that a forester can read.

* :func:`write_training_report` - after training: data, parameters, classes, accuracy,
  confusion matrix, training curves, split protocol.
* :func:`write_accuracy_report` - a finished map against reference data (assessaccuracy).
* :func:`write_comparison_report` - several feature sets trained alike (comparefeaturesets).

matplotlib (Agg backend) draws the pictures; it is imported inside the functions, so this
module can be imported without it. No qgis import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .html_page import escape, figure_png, key_value_table, page, png_img, pyplot, write_page
from .models import FAMILIES
from .splits import RANDOM_SPLIT_WARNING


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


def training_curves(history: Mapping[str, Sequence[float]], best_epoch: int | None = None) -> str:
    """Loss and accuracy per epoch, training and validation, as an ``<img>`` tag ('' if empty).

    ``best_epoch`` (1-based): the epoch whose weights were kept, marked by a dashed line.
    """
    if not history or not history.get("loss"):
        return ""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, title in ((axes[0], "loss", "Loss (categorical cross-entropy)"),
                           (axes[1], "accuracy", "Accuracy")):
        values = history.get(key) or []
        val = history.get(f"val_{key}") or []
        epochs = range(1, len(values) + 1)
        ax.plot(epochs, values, label="training", color="#1565c0")
        if val:
            ax.plot(range(1, len(val) + 1), val, label="validation", color="#e65100")
        if best_epoch:
            ax.axvline(best_epoch, color="#555", linestyle="--", linewidth=1, label="weights kept")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
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


def _split_section(split: Mapping[str, Any]) -> str:
    protocol = split.get("protocol", "unknown")
    if protocol == "group":
        text = (f'<p class="ok">The samples were split <b>by polygon</b> (column '
                f'<code>{escape(split.get("group_column", "polygon_id"))}</code>): no polygon has pixels '
                f'in both training and test. Test fraction: {escape(split.get("test_fraction", "n/a"))}. '
                "The accuracy figures above are therefore an honest estimate for unseen areas.</p>")
    else:
        text = (f'<p class="note">The samples were split <b>at random</b> (test fraction '
                f'{escape(split.get("test_fraction", "n/a"))}), without grouping by polygon. The accuracy '
                "figures above may be optimistic.</p>")
    return f"<h2>How the samples were split</h2>{text}<p>{RANDOM_SPLIT_WARNING}</p>"


def _class_table(legend: Mapping[str, Any], counts: Mapping[str, Mapping[Any, int]],
                 groups: Mapping[str, Mapping[str, int]] | None = None) -> str:
    parts = ("train", "validation", "test")

    def count(part: str, code: int) -> str:
        table = counts.get(part) or {}
        polygons = (groups or {}).get(part)
        return str(table.get(str(code), table.get(code, 0))) + (
            f' <span class="small">({polygons.get(str(code), 0)} pol.)</span>' if polygons else "")

    rows = []
    for code, name, color in zip(legend.get("codes", []), legend.get("names", []),
                                 legend.get("colors", []), strict=False):
        cells = "".join(f"<td>{count(p, int(code))}</td>" for p in parts)
        rows.append(f'<tr><td>{escape(code)}</td><td class="l">{escape(name)}</td><td class="l">'
                    f'<span class="swatch" style="background:{escape(color)}"></span> {escape(color)}</td>'
                    f"{cells}</tr>")
    totals = "".join(f"<td>{sum(int(v) for v in (counts.get(p) or {}).values())}</td>" for p in parts)
    return ('<table><tr><th>Code</th><th class="l">Name</th><th class="l">Colour</th>'
            "<th>Training</th><th>Validation</th><th>Test</th></tr>" + "".join(rows) +
            f'<tr><th class="l" colspan="3">Total</th>{totals}</tr></table>')


def write_training_report(html_path: str | os.PathLike, metadata: Mapping[str, Any],
                          example_patches_png: bytes | None = None) -> str:
    """Write the training report of a model (its model-file metadata, see docs/DESIGN.md).

    Parameters
    ----------
    html_path : str or path
        The ``.html`` file to write (atomically).
    metadata : dict
        ``model_type``, ``feature_names``, ``patch_size``, ``legend``, ``training``, ``split``
        (with ``counts``), ``metrics`` (test part), ``history``, ``versions``, ``created``;
        missing parts are left out of the report.
    example_patches_png : bytes, optional
        PNG of example training patches per class (``ModelFamily.example_figure``),
        shown for patch models.

    Returns
    -------
    str
        ``html_path``.
    """
    metrics = metadata.get("metrics") or {}
    legend = metadata.get("legend") or {}
    split = metadata.get("split") or {}
    training = dict(metadata.get("training") or {})
    colors = {int(c): col for c, col in zip(legend.get("codes", []), legend.get("colors", []),
                                            strict=False)}
    model_type = metadata.get("model_type", "")
    if metadata.get("patch_size", 1) == 1:
        training.pop("patch_size", None)  # per-pixel model: the patch size does not apply
    data = {
        "Model type": f"{model_type}: {FAMILIES[model_type].description}" if model_type in FAMILIES
                      else model_type,
        "Features (bands, in order)": ", ".join(metadata.get("feature_names", [])),
        "Patch size (pixels)": metadata.get("patch_size") if metadata.get("patch_size", 1) > 1 else None,
        "Derived inputs": (f"{metadata['derived_features'].replace('_', ' ')} of every band pair, "
                           "computed before scaling"
                           if metadata.get("derived_features", "none") != "none" else None),
        "Samples file": training.pop("samples", None),
        "Label column": training.pop("label", None),
        "Created (UTC)": metadata.get("created"),
    }
    versions = metadata.get("versions") or {}
    body = [
        "<h2>Result on the test samples</h2>", _metrics_summary(metrics),
        "<h2>Data and parameters</h2>", key_value_table(data),
        "<p>Training parameters:</p>",
        key_value_table({k: (", ".join(map(str, v)) if isinstance(v, list) else v)
                          for k, v in training.items() if not isinstance(v, dict)}),
        "<h2>Classes</h2><p>Number of samples of each class in the training, validation (used "
        "for early stopping) and test parts (used only for the figures in this report)"
        + (", and of the polygons (groups: each part of a multi-part feature, each point) they come "
           "from" if split.get("groups") else "") + ".</p>",
        _class_table(legend, split.get("counts") or {}, split.get("groups")),
        "<h2>Accuracy per class (test samples)</h2>", _per_class_table(metrics, colors),
        _confusion_section(metrics),
        _split_section(split),
    ]
    best = training.get("best_epoch")
    curves = training_curves(metadata.get("history") or {}, int(best) if isinstance(best, int) else None)
    if curves:
        body += ["<h2>Training curves</h2><p>Loss and accuracy per epoch on the training part and "
                 "on the validation part. Training stops when the validation loss has not improved "
                 "for 'patience' epochs; the best epoch's weights are kept. A validation curve "
                 "far worse than the training curve means over-fitting."
                 + (" This model trained on mixup batches (pairs of training patches blended, "
                    f"alpha {training['mixup_alpha']}): its training curve is measured on those blends, "
                    "so it can lie below the validation curve without under-fitting."
                    if training.get("mixup_alpha") else "") + "</p>", curves]
    if example_patches_png:
        k = metadata.get("patch_size", 1)
        body += [f"<h2>Training patches</h2><p>The network classifies each pixel from the {k} x {k} "
                 "pixels around it. A few training patches of each class, the classified pixel "
                 "marked in the centre:</p>",
                 png_img(example_patches_png, "example training patches")]
    if versions:
        body += ["<h2>Software</h2>", key_value_table(versions)]
    return write_page(html_path, page("Land cover model: training report", "".join(body)))


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


def write_comparison_report(html_path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
                            info: Mapping[str, Any] | None = None) -> str:
    """Write the feature-set comparison: one row per set (name, features, OA, kappa, macro F1).

    Parameters
    ----------
    rows : sequence of dict
        ``set_name``, ``features`` (list or str), ``overall_accuracy``, ``kappa``, ``macro_f1``,
        optional ``n_test``, ``fit_seconds``.
    info : dict, optional
        Shown as "Data and parameters".
    """
    plt = pyplot()
    names = [str(r.get("set_name", r.get("name", i + 1))) for i, r in enumerate(rows)]
    table = []
    for name, row in zip(names, rows, strict=True):
        features = row.get("features", "")
        features = ", ".join(features) if isinstance(features, list) else str(features)
        table.append(f'<tr><td class="l">{escape(name)}</td><td class="l">{escape(features)}</td>'
                     f'<td>{_pct(row.get("overall_accuracy"))}</td><td>{_num(row.get("kappa"))}</td>'
                     f'<td>{_num(row.get("macro_f1"))}</td><td>{escape(row.get("n_test", ""))}</td></tr>')
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rows) + 2), 3.6))
    width = 0.26
    for k, (key, label, color) in enumerate((("overall_accuracy", "overall accuracy", "#2e7d32"),
                                             ("kappa", "kappa", "#1565c0"),
                                             ("macro_f1", "macro F1", "#e65100"))):
        values = [float(r.get(key) or 0) for r in rows]
        ax.bar([i + (k - 1) * width for i in range(len(rows))], values, width, label=label, color=color)
    ax.set_xticks(range(len(rows)), labels=names)
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Accuracy by feature set (same model, split and seed)")
    body = [
        "<h2>Data and parameters</h2>", key_value_table(dict(info or {})),
        "<h2>Result</h2><p>Every feature set was trained with the same model, the same split of "
        "the samples and the same seed, so the differences come from the features.</p>",
        '<table><tr><th class="l">Feature set</th><th class="l">Features</th><th>Overall accuracy'
        "</th><th>Kappa</th><th>Macro F1</th><th>Test samples</th></tr>" + "".join(table) + "</table>",
        figure_png(fig),
        f"<p class=small>{RANDOM_SPLIT_WARNING}</p>",
    ]
    return write_page(html_path, page("Land cover model: feature set comparison", "".join(body)))
