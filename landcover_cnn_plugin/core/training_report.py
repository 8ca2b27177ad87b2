"""The training report and the feature-set comparison report (self-contained HTML).

* :func:`write_training_report` - after training: what limits the figures (warnings), the figures
  with their 95 % intervals, the automatic model choice's comparison, the folds of a
  cross-validation, data, parameters, classes with their polygons, per-class accuracy,
  confusion matrix, split protocol, training curves.
* :func:`write_comparison_report` - several feature sets trained alike (comparefeaturesets).

Built from the shared blocks of ``core.report``; matplotlib is imported inside the functions.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from typing import Any

from .html_page import escape as _e
from .html_page import figure_png as _figure_png
from .html_page import key_value_table as _key_value_table
from .html_page import page as _page
from .html_page import pyplot as _pyplot
from .html_page import write_page as _write
from .legend import ClassLegend
from .models import FAMILIES
from .polygon_support import MIN_F1_POLYGONS, thin_test_classes
from .report import _confusion_section, _num, _pct, _per_class_table
from .splits import RANDOM_SPLIT_WARNING

FIGURE_LABELS = (("overall_accuracy", "Overall accuracy"), ("kappa", "Cohen's kappa"),
                 ("macro_f1", "Macro F1 (mean over the classes tested)"))


def training_curves(history: Mapping[str, Sequence[float]], best_epoch: int | None = None) -> str:
    """Loss and accuracy per epoch, training and validation, as an ``<img>`` tag ('' if empty).

    ``best_epoch`` (1-based): the epoch whose weights were kept, marked by a dashed line.
    """
    if not history or not history.get("loss"):
        return ""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, title in ((axes[0], "loss", "Loss (categorical cross-entropy)"),
                           (axes[1], "accuracy", "Accuracy")):
        values = history.get(key) or []
        val = history.get(f"val_{key}") or []
        ax.plot(range(1, len(values) + 1), values, label="training", color="#1565c0")
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
    return _figure_png(fig)


def _warnings_box(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{_e(w[:1].upper() + w[1:])}</li>" for w in warnings)
    return f'<div class="note"><b>Read before trusting the figures below</b><ul>{items}</ul></div>'


def _interval(values: Sequence[float] | None) -> str:
    return "n/a" if not values else f"{_num(values[0])} to {_num(values[1])}"


def _result_section(metrics: Mapping[str, Any], split: Mapping[str, Any], cv: Mapping[str, Any] | None,
                    legend: Mapping[str, Any]) -> str:
    """The figures with their 95 % intervals (and, after cross-validation, the folds' mean and spread)."""
    intervals = metrics.get("intervals") or {}
    tested = (split.get("polygons") or {}).get("all" if split.get("cv_folds") else "test") or {}
    thin = thin_test_classes(tested, ClassLegend.from_dict(legend)) if tested and legend.get("codes") else []
    folds = split.get("cv_folds") or 0
    head = "<th>Mean &plusmn; spread over the folds</th>" if cv else ""
    rows = []
    for key, label in FIGURE_LABELS:
        value = _pct(metrics.get(key)) if key == "overall_accuracy" else _num(metrics.get(key))
        spread = ""
        if cv:
            figure = cv["summary"][key]
            spread = f"<td>{_num(figure['mean'])} &plusmn; {_num(figure['std'])}</td>"
        caveat = (f"<br><span class=small>classes with fewer than {MIN_F1_POLYGONS} tested polygons: "
                  f"{_e('; '.join(thin))}: their F1 varies more than the interval shows</span>"
                  if key == "macro_f1" and thin else "")
        rows.append(f'<tr><th class="l">{_e(label)}{caveat}</th><td>{value}</td>'
                    f"<td>{_interval(intervals.get(key))}</td>{spread}</tr>")
    unit = "polygons" if split.get("protocol") == "group" else "samples"
    if folds:
        what = (f"<p>Every sample was tested once, by the model of the {folds}-fold cross-validation that "
                f"had not seen its {'polygon' if unit == 'polygons' else 'fold'}; the figures pool these "
                "predictions (the confusion matrix below too).</p>")
    else:
        what = (f"<p>Figures on the test part: {_e(metrics.get('n_samples', 'n/a'))} pixels of "
                f"{_e(intervals.get('n_groups', 'n/a'))} {unit} that the model did not see.</p>")
    return ("<h2>Accuracy on held-out " + unit + "</h2>" + what +
            '<table class="big"><tr><th class="l">Figure</th><th>Estimate</th><th>95 % interval</th>'
            + head + "</tr>" + "".join(rows) + "</table>"
            f'<p class="small">95 % interval: {intervals.get("replicates", 1000)} bootstrap replicates that '
            f"redraw the {intervals.get('n_groups', '')} tested {unit} with replacement; the pixels of "
            "one polygon are alike, so the evidence is the number of polygons, not of pixels. Overall "
            "accuracy: share of pixels classified correctly. Kappa: agreement beyond chance (0 = chance, "
            "1 = perfect). Macro F1: the mean of the per-class F1 scores, so that small classes count as "
            "much as large ones; classes without test samples are left out of it.</p>")


def _choice_section(choice: Mapping[str, Any] | None, split: Mapping[str, Any]) -> str:
    if not choice:
        return ""
    where = ("the folds of the cross-validation" if split.get("cv_folds")
             else "folds of the training part (the test part stayed unseen)")
    rows = []
    for row in choice["candidates"]:
        chosen = row["status"] == "chosen"
        cells = "".join(f"<td>{_num(row.get(key))}</td>" for key in ("overall_accuracy", "kappa", "macro_f1",
                                                                     "score"))
        rows.append(f'<tr{" class=diag" if chosen else ""}><td class="l"><b>{_e(row["model_type"])}</b>'
                    f'<br><span class=small>{_e(row["description"])}</span></td><td>{row["folds"]}</td>'
                    f'{cells}<td>{_e(row.get("seconds_per_fold") or "")}</td>'
                    f'<td class="l">{_e(row["status"])}</td></tr>')
    notes = "".join(f'<p class="note">{_e(n[:1].upper() + n[1:])}.</p>' for n in choice.get("notes") or [])
    return ("<h2>Automatic model choice</h2>" + notes +
            f"<p>The candidate models were trained alike on {choice['rounds']} polygon-grouped fold(s) of "
            f"{where} and scored on the polygons each fold held out; the best mean of overall accuracy, "
            f"kappa and macro F1 won: <b>{_e(choice['chosen'])}</b>. A model that over-fits few polygons "
            "scores low here, so small data sets get the model that generalises on them.</p>"
            '<table><tr><th class="l">Model</th><th>Folds</th><th>Overall accuracy</th><th>Kappa</th>'
            '<th>Macro F1</th><th>Score</th><th>Seconds per fold</th><th class="l">Status</th></tr>'
            + "".join(rows) + "</table>")


def _folds_section(cv: Mapping[str, Any] | None, training: Mapping[str, Any], n_samples: int) -> str:
    if not cv:
        return ""
    rows = "".join(f"<tr><td>{f['fold']}</td><td>{f['n_test']}</td><td>{_num(f['overall_accuracy'])}</td>"
                   f"<td>{_num(f['kappa'])}</td><td>{_num(f['macro_f1'])}</td><td>{f['epochs_run']}</td></tr>"
                   for f in cv["folds"])
    epochs = training.get("epochs_run")
    schedule = (f"{training.get('schedule')} schedule, {epochs} epochs" if epochs
                else "the same settings")
    return (f"<h2>Cross-validation ({cv['n_folds']} folds)</h2>"
            '<table><tr><th>Fold</th><th>Test pixels</th><th>Overall accuracy</th><th>Kappa</th>'
            "<th>Macro F1</th><th>Epochs</th></tr>" + rows + "</table>"
            f'<p class="ok">The model in this file was then trained on all {n_samples} samples with the '
            f"settings the folds used ({_e(schedule)}); the figures above are those of the same training "
            "on the folds, an estimate of how this model maps polygons it has not seen.</p>")


def _class_table(legend: Mapping[str, Any], counts: Mapping[str, Mapping[str, int]],
                 polygons: Mapping[str, Mapping[str, int]], parts: Sequence[tuple[str, str]],
                 unit: str) -> str:
    def cell(part: str, code: int) -> str:
        samples = (counts.get(part) or {}).get(str(code), 0)
        groups = (polygons.get(part) or {}).get(str(code))
        shown = groups is not None and unit == "polygons"
        extra = f" <span class=small>({groups} pol.)</span>" if shown else ""
        return f"<td>{samples}{extra}</td>"

    rows = []
    for code, name, color in zip(legend.get("codes", []), legend.get("names", []), legend.get("colors", []),
                                 strict=False):
        swatch = f'<span class="swatch" style="background:{_e(color)}"></span>'
        rows.append(f'<tr><td>{_e(code)}</td><td class="l">{swatch} <span>{_e(name)}</span></td>'
                    + "".join(cell(p, int(code)) for p, _ in parts) + "</tr>")
    head = "".join(f"<th>{_e(label)}</th>" for _, label in parts)
    totals = "".join(f"<td>{sum(int(v) for v in (counts.get(p) or {}).values())}</td>" for p, _ in parts)
    return (f"<p>Samples of each class{' (in brackets: polygons)' if unit == 'polygons' else ''}.</p>"
            '<table><tr><th>Code</th><th class="l">Name</th>' + head + "</tr>" + "".join(rows)
            + f'<tr><th class="l" colspan="2">Total</th>{totals}</tr></table>')


def _split_section(split: Mapping[str, Any]) -> str:
    protocol, folds = split.get("protocol", "unknown"), split.get("cv_folds") or 0
    held = (f"{folds}-fold cross-validation" if folds
            else f"test fraction {_e(split.get('test_fraction', 'n/a'))}")
    if protocol == "group":
        text = (f'<p class="ok">The samples were split <b>by polygon</b> (column '
                f'<code>{_e(split.get("group_column", "polygon_id"))}</code>, {held}): no polygon has pixels '
                "in both training and test. The accuracy figures above are therefore an honest estimate "
                "for unseen areas.</p>")
    else:
        text = (f'<p class="note">The samples were split <b>at random</b> ({held}), without grouping by '
                "polygon. The accuracy figures above may be optimistic.</p>")
    return f"<h2>How the samples were split</h2>{text}<p>{RANDOM_SPLIT_WARNING}</p>"


def write_training_report(html_path: str | os.PathLike, metadata: Mapping[str, Any],
                          example_patches_png: bytes | None = None) -> str:
    """Write the training report of a model (its model-file metadata, see docs/DESIGN.md).

    Parameters
    ----------
    html_path : str or path
        The ``.html`` file to write (atomically).
    metadata : dict
        ``model_type``, ``feature_names``, ``patch_size``, ``legend``, ``training``, ``split``
        (with ``counts`` and ``polygons``), ``metrics`` (with ``intervals``), ``warnings``,
        ``cross_validation``, ``model_choice``, ``history``, ``versions``, ``created``; missing
        parts are left out of the report.
    example_patches_png : bytes, optional
        PNG of example training patches per class (``ModelFamily.example_figure``).

    Returns
    -------
    str
        ``html_path``.
    """
    metrics, legend = metadata.get("metrics") or {}, metadata.get("legend") or {}
    split, cv = metadata.get("split") or {}, metadata.get("cross_validation")
    training = dict(metadata.get("training") or {})
    colors = {int(c): col for c, col in zip(legend.get("codes", []), legend.get("colors", []), strict=False)}
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
    unit = "polygons" if split.get("protocol") == "group" else "samples"
    parts = ((("all", "All samples (each tested once)"),) if split.get("cv_folds") else
             (("train", "Training"), ("validation", "Validation (early stopping)"), ("test", "Test")))
    counts = dict(split.get("counts") or {})
    if split.get("cv_folds"):
        counts["all"] = counts.get("test", {})
    absent = metrics.get("absent_codes") or []
    body = [
        _warnings_box(metadata.get("warnings") or []),
        _result_section(metrics, split, cv, legend),
        _choice_section(metadata.get("model_choice"), split),
        _folds_section(cv, training, sum((counts.get("train") or {}).values())),
        "<h2>Data and parameters</h2>", _key_value_table(data),
        "<p>Training parameters:</p>",
        _key_value_table({k: (", ".join(map(str, v)) if isinstance(v, list) else v)
                          for k, v in training.items() if not isinstance(v, dict)}),
        "<h2>Classes</h2>",
        _class_table(legend, counts, split.get("polygons") or {}, parts, unit),
        "<h2>Accuracy per class (held-out samples)</h2>", _per_class_table(metrics, colors),
        (f"<p>Not tested (no held-out samples; left out of macro F1): {_e(', '.join(map(str, absent)))}.</p>"
         if absent else ""),
        _confusion_section(metrics),
        _split_section(split),
    ]
    best = training.get("best_epoch")
    history = metadata.get("history") or {}
    kept = int(best) if isinstance(best, int) and history.get("val_loss") else None
    curves = training_curves(history, kept)
    if curves:
        how = ("Training stopped when the validation loss had not improved for 'patience' epochs; the best "
               "epoch's weights are kept. A validation curve far worse than the training curve means "
               "over-fitting." if history.get("val_loss") else
               "The model trained a fixed number of epochs over every training polygon while the learning "
               "rate decayed (cosine schedule); its accuracy on unseen polygons is the figure above.")
        body += ["<h2>Training curves</h2><p>Loss and accuracy per epoch on the training part"
                 + (" and on the validation part. " if history.get("val_loss") else ". ") + how
                 + (" This model trained on mixup batches (pairs of training patches blended, "
                    f"alpha {training['mixup_alpha']}): its training curve is measured on those blends."
                    if training.get("mixup_alpha") else "") + "</p>", curves]
    if example_patches_png:
        k = metadata.get("patch_size", 1)
        data64 = base64.b64encode(example_patches_png).decode("ascii")
        body += [f"<h2>Training patches</h2><p>The network classifies each pixel from the {k} x {k} "
                 "pixels around it. A few training patches of each class, the classified pixel "
                 "marked in the centre:</p>",
                 f'<img alt="example training patches" src="data:image/png;base64,{data64}">']
    versions = metadata.get("versions") or {}
    if versions:
        body += ["<h2>Software</h2>", _key_value_table(versions)]
    return _write(html_path, _page("Land cover model: training report", "".join(body)))


def write_comparison_report(html_path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
                            info: Mapping[str, Any] | None = None) -> str:
    """Write the feature-set comparison: one row per set (name, features, figures and their spread).

    Parameters
    ----------
    rows : sequence of dict
        ``set_name``, ``features`` (list or str), ``overall_accuracy``, ``kappa``, ``macro_f1``,
        optional ``*_low``/``*_high`` (95 % interval), ``cv_*_std`` (spread over folds), ``n_test``.
    info : dict, optional
        Shown as "Data and parameters".
    """
    plt = _pyplot()
    names = [str(r.get("set_name", r.get("name", i + 1))) for i, r in enumerate(rows)]
    table = []
    for name, row in zip(names, rows, strict=True):
        features = row.get("features", "")
        features = ", ".join(features) if isinstance(features, list) else str(features)
        cells = []
        for key in ("overall_accuracy", "kappa", "macro_f1"):
            spread = (f"<br><span class=small>&plusmn; {_num(row[f'cv_{key}_std'])} over folds</span>"
                      if row.get(f"cv_{key}_std") is not None else "")
            interval = (f"<br><span class=small>{_num(row[f'{key}_low'])} to "
                        f"{_num(row[f'{key}_high'])}</span>" if row.get(f"{key}_low") is not None else "")
            cells.append(f"<td>{_num(row.get(key))}{spread}{interval}</td>")
        table.append(f'<tr><td class="l">{_e(name)}</td><td class="l">{_e(features)}</td>{"".join(cells)}'
                     f'<td>{_e(row.get("n_test", ""))}</td></tr>')
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rows) + 2), 3.6))
    width = 0.26
    bars = (("overall_accuracy", "overall accuracy", "#2e7d32"), ("kappa", "kappa", "#1565c0"),
            ("macro_f1", "macro F1", "#e65100"))
    for k, (key, label, color) in enumerate(bars):
        values = [float(r.get(key) or 0) for r in rows]
        below = [v - float(r.get(f"{key}_low", v) or v) for r, v in zip(rows, values, strict=True)]
        above = [float(r.get(f"{key}_high", v) or v) - v for r, v in zip(rows, values, strict=True)]
        ax.bar([i + (k - 1) * width for i in range(len(rows))], values, width, label=label, color=color,
               yerr=[below, above], capsize=3)
    ax.set_xticks(range(len(rows)), labels=names)
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Accuracy by feature set (same model, split and seed; bars: 95 % intervals)")
    body = [
        "<h2>Data and parameters</h2>", _key_value_table(dict(info or {})),
        "<h2>Result</h2><p>Every feature set was trained with the same model, the same split of "
        "the samples and the same seed, so the differences come from the features. Under each figure: "
        "its spread over the folds (cross-validation) and its 95 % interval (bootstrap over the tested "
        "polygons); differences smaller than the intervals may be chance.</p>",
        '<table><tr><th class="l">Feature set</th><th class="l">Features</th><th>Overall accuracy'
        "</th><th>Kappa</th><th>Macro F1</th><th>Test samples</th></tr>" + "".join(table) + "</table>",
        _figure_png(fig),
        f"<p class=small>{RANDOM_SPLIT_WARNING}</p>",
    ]
    return _write(html_path, _page("Land cover model: feature set comparison", "".join(body)))
