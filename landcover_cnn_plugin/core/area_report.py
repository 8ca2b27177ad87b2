"""Accuracy and area of a map from a probability sample: estimates CSV, matrix CSV and HTML report.

The worker's ``assess`` job calls :func:`assess_probability_sample` when the reference points
are a probability sample (``core.probability_sample``). Estimates: ``core.area_estimation``
(Olofsson et al. 2014). The report shows the overall, user's and producer's accuracies with
their 95 % intervals, each class's estimated area beside its mapped area (table and bar chart
with error bars), the error matrix of sample counts and of estimated area proportions, and
how it was computed. matplotlib is imported inside the functions (worker only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .accuracy import assess_pairs
from .area_estimation import (
    Z95,
    AreaEstimates,
    estimate_areas,
    estimate_rows,
    write_estimates_csv,
)
from .html_page import escape, figure_png, key_value_table, page, pyplot, write_page
from .io.class_maps import ClassMap

DESIGN_TEXT = {
    "stratified": (
        "Stratified random sample with the map classes as strata (from 'Stratified random "
        "points'): each stratum's points were drawn at random among its pixels, and the strata's "
        "pixel counts came with the points."),
    "simple_random": (
        "Simple random sample: the points were drawn at random over the whole map. They are "
        "post-stratified by the map class under them, and the classes' pixel counts come from the "
        "map."),
}


def _units_squared(unit_name: str) -> str:
    return "m²" if unit_name.lower() in ("metre", "meter", "m") else f"square {unit_name}"


def assess_probability_sample(pairs: Mapping[tuple[int, int], int], stratum_pixels: Mapping[int, int],
                              class_map: ClassMap, legend: Mapping[str, list] | None, design: str,
                              estimates_csv: str | None = None,
                              matrix_csv: str | None = None, report_html: str | None = None,
                              info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Estimates from a labelled probability sample; write the CSVs and the report.

    Parameters
    ----------
    pairs : {(reference code, map code): points}
    stratum_pixels : {map code: pixels}
    legend : dict or None
        The map's legend (codes, names, colors).
    class_map : ClassMap
        The assessed map (its pixel size gives the areas).
    design : {"stratified", "simple_random"}

    Returns
    -------
    dict
        ``overall_accuracy`` (estimated), ``overall_accuracy_ci95``, ``kappa`` and ``macro_f1``
        of the estimated proportions, ``estimates`` (the CSV rows), ``n_samples``, ``design``.
    """
    estimates = estimate_areas(pairs, stratum_pixels, "REFERENCE")
    legend = legend or {}
    names = dict(zip((int(c) for c in legend.get("codes", [])), legend.get("names", []), strict=False))
    colors = dict(zip((int(c) for c in legend.get("codes", [])), legend.get("colors", []), strict=False))
    pixel_ha = class_map.hectares_per_pixel
    rows = estimate_rows(estimates, names, pixel_ha)
    if estimates_csv:
        write_estimates_csv(estimates_csv, rows)
    if matrix_csv:  # the sample counts in the layout of the other designs (rows reference)
        assess_pairs(pairs, legend, matrix_csv)
    result = {"design": design, "overall_accuracy": estimates.overall_accuracy,
              "overall_accuracy_ci95": Z95 * estimates.overall_se, "kappa": estimates.kappa,
              "macro_f1": estimates.macro_f1 if np.isfinite(estimates.macro_f1) else None,
              "n_samples": int(estimates.counts.sum()), "estimates": rows}
    if report_html:
        details = dict(info or {})
        details["Sampling design"] = DESIGN_TEXT.get(design, design)
        details["Labelled sample points"] = result["n_samples"]
        details["Pixel size"] = (f"{class_map.pixel_area:g} {_units_squared(class_map.unit_name)} "
                                 f"({pixel_ha:g} ha)")
        details["Mapped area"] = (f"{estimates.total_pixels * pixel_ha:,.1f} ha "
                                  f"({estimates.total_pixels} pixels)")
        write_area_report(report_html, estimates, rows, details, colors, class_map)
    return result


def _interval(value: float | None, half: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f} ± {half:.{digits}f}" if half is not None else f"{value:.{digits}f}"


def _accuracy_table(rows: Sequence[Mapping[str, Any]], estimates: AreaEstimates) -> str:
    lines = [f'<table class="big"><tr><th class="l">Overall accuracy</th><td>'
             f'{_interval(estimates.overall_accuracy, Z95 * estimates.overall_se)}</td></tr></table>',
             '<table><tr><th>Code</th><th class="l">Class</th><th>User\'s accuracy</th>'
             "<th>Producer's accuracy</th><th>Sample points (map class)</th></tr>"]
    for i, row in enumerate(rows):
        lines.append(f'<tr><td>{row["code"]}</td><td class="l">{escape(row["name"])}</td>'
                     f'<td>{_interval(row["users_accuracy"], row["users_ci95"])}</td>'
                     f'<td>{_interval(row["producers_accuracy"], row["producers_ci95"])}</td>'
                     f"<td>{int(estimates.counts[i].sum())}</td></tr>")
    lines.append("</table><p class=small>Estimate ± half-width of the 95 % confidence interval "
                 "(1.96 standard errors). User's accuracy: of the area mapped as a class, the share "
                 "that is that class; producer's accuracy: of the area that is a class, the share the "
                 "map shows as it. Both are weighted by the classes' mapped areas, not counted over "
                 "the points.</p>")
    return "".join(lines)


def _area_table(rows: Sequence[Mapping[str, Any]], class_map: ClassMap) -> str:
    units = _units_squared(class_map.unit_name)
    to_units = class_map.pixel_area / class_map.hectares_per_pixel
    lines = ['<table><tr><th>Code</th><th class="l">Class</th><th>Mapped area (ha)</th>'
             f"<th>Estimated area (ha)</th><th>Estimated area ({units})</th></tr>"]
    for row in rows:
        lines.append(
            f'<tr><td>{row["code"]}</td><td class="l">{escape(row["name"])}</td>'
            f'<td>{row["mapped_area_ha"]:,.1f}</td>'
            f'<td>{row["estimated_area_ha"]:,.1f} ± {row["area_ci95_ha"]:,.1f}</td>'
            f'<td>{row["estimated_area_ha"] * to_units:,.0f} ± '
            f'{row["area_ci95_ha"] * to_units:,.0f}</td></tr>')
    lines.append("</table><p class=small>The mapped area counts the map's pixels; the estimated "
                 "area corrects it with the reference labels of the sample (the map's errors of "
                 "omission and commission), ± the half-width of its 95 % interval.</p>")
    return "".join(lines)


def area_chart(rows: Sequence[Mapping[str, Any]], colors: Mapping[int, str]) -> str:
    """Mapped and estimated area of each class (the estimate with its 95 % interval), one panel
    per class with its own scale, so that the interval of a small class is as readable as a large one's."""
    import math

    from matplotlib.ticker import FuncFormatter

    plt = pyplot()
    n_cols = min(4, max(1, len(rows)))
    n_rows = math.ceil(len(rows) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.0 * n_cols, 2.9 * n_rows), squeeze=False)
    for ax, row in zip(axes.flat, rows, strict=False):
        ax.bar([0], [row["mapped_area_ha"]], 0.6, color="#b0bec5", label="mapped")
        ax.bar([1], [row["estimated_area_ha"]], 0.6, yerr=[row["area_ci95_ha"]], capsize=6,
               color=colors.get(int(row["code"]), "#2e7d32"), edgecolor="#333", label="estimated")
        ax.set_xticks([0, 1], labels=["mapped", "estimated"])
        ax.set_title(f'{row["name"]} ({row["code"]})', fontsize=10)
        ax.set_ylim(0, max(row["mapped_area_ha"], row["estimated_area_ha"] + row["area_ci95_ha"]) * 1.15 or 1)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(rows):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("area (ha)")
    fig.suptitle("Mapped area and estimated area with its 95 % interval")
    fig.tight_layout()
    return figure_png(fig)


def _matrix_table(estimates: AreaEstimates, names: Mapping[int, str], proportions: bool) -> str:
    codes = estimates.codes
    values = estimates.proportions if proportions else estimates.counts
    cell = (lambda v: f"{v:.4f}") if proportions else (lambda v: str(int(v)))
    head = "".join(f"<th>{escape(names.get(c, c))}<br><span class=small>{c}</span></th>" for c in codes)
    extra = "<th>W<sub>i</sub></th><th>User's</th>" if proportions else ""
    body = []
    for i, code in enumerate(codes):
        cells = "".join(f'<td{" class=diag" if i == j else ""}>{cell(v)}</td>'
                        for j, v in enumerate(values[i]))
        more = ""
        if proportions:
            users = estimates.users_accuracy[i]
            more = (f"<td>{estimates.mapped_pixels[i] / estimates.total_pixels:.4f}</td>"
                    f'<td>{"n/a" if not np.isfinite(users) else f"{users:.3f}"}</td>')
        body.append(f'<tr><th class="l">{escape(names.get(code, code))} <span class=small>{code}</span></th>'
                    f"{cells}<td>{cell(values[i].sum())}</td>{more}</tr>")
    totals = "".join(f"<td>{cell(v)}</td>" for v in values.sum(axis=0))
    footer = f'<tr><th class="l">Total</th>{totals}<td>{cell(values.sum())}</td></tr>'
    if proportions:
        producers = "".join(f'<td>{"n/a" if not np.isfinite(p) else f"{p:.3f}"}</td>'
                            for p in estimates.producers_accuracy)
        footer += f"<tr><th class=l>Producer's</th>{producers}</tr>"
    return ('<table><tr><th class="l">Map \\ reference</th>' + head + "<th>Total</th>" + extra + "</tr>" +
            "".join(body) + footer + "</table>")


def write_area_report(html_path: str | os.PathLike, estimates: AreaEstimates,
                      rows: Sequence[Mapping[str, Any]], info: Mapping[str, Any],
                      colors: Mapping[int, str], class_map: ClassMap) -> str:
    """Write the report of a probability-sample assessment (self-contained HTML)."""
    names = {int(row["code"]): str(row["name"]) for row in rows}
    body = [
        "<h2>Data</h2>", key_value_table(info),
        "<h2>Accuracy</h2>", _accuracy_table(rows, estimates),
        "<h2>Area of each class</h2>", _area_table(rows, class_map),
        area_chart(rows, colors),
        "<h2>Error matrix of sample counts</h2><p>Rows: class in the map (the stratum); columns: "
        "class in the reference data.</p>", _matrix_table(estimates, names, proportions=False),
        "<h2>Error matrix of estimated area proportions</h2><p>Each count weighted by its map class's "
        "share of the map (W<sub>i</sub>) over the class's sample points: the share of the whole map "
        "in each cell. Column totals are the estimated area shares of the classes.</p>",
        _matrix_table(estimates, names, proportions=True),
        '<h2>Method</h2><p class="small">Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., '
        "Woodcock, C. E., Wulder, M. A. (2014): Good practices for estimating area and assessing "
        "accuracy of land change. Remote Sensing of Environment 148, 42-57; estimators eq. 1-10 "
        "(stratified estimator, map classes as strata), 95 % intervals of ± 1.96 standard errors, "
        "no finite population correction (a class whose every pixel was sampled adds no variance). "
        "Kappa is not shown, as the guidance recommends; the algorithm's KAPPA and MACRO_F1 outputs "
        "come from the estimated area proportions, for comparison with older studies.</p>",
    ]
    return write_page(html_path, page("Land cover map: accuracy and area estimates", "".join(body)))
