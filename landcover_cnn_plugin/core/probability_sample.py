"""The labelled points of a probability sample, checked against the map they were drawn from.

``assessaccuracy`` reads reference points with this module when they are a probability
sample: a stratified random sample by map class (from ``stratifiedpoints``: its fields
``stratum``, ``stratum_px`` and ``map_px`` carry the strata's sizes, so the map is
not read again) or a simple random sample (the strata are the map classes at the points,
post-stratification, and one pass over the map counts their pixels). The result feeds
``core.area_estimation.estimate_areas``.

Points are read in Arrow batches (no Python step per point, ``core.io.vectors``) and the map at
the points with one read per block touched (``core.io.blocks.BlockSampler``), valid by the one
validity rule. NumPy and ``core.io`` only: runs in the QGIS process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .errors import UserInputError, raise_if_canceled
from .io.blocks import BlockSampler
from .io.class_maps import ClassMap
from .io.rasters import open_raster
from .io.vectors import iter_point_batches, masked_integers
from .progress import Reporter
from .sample_design import count_classes

#: Sampling designs of assessaccuracy (the order of its SAMPLING_DESIGN parameter).
DESIGNS = ("auto", "stratified", "simple_random", "none")
#: The fields ``stratifiedpoints`` writes that make a layer a stratified sample.
STRATUM_FIELDS = ("stratum", "stratum_px", "map_px")


@dataclass
class ProbabilitySample:
    """Labelled points of a probability sample and the strata's sizes.

    Attributes
    ----------
    pairs : {(reference code, map code): points}
    stratum_pixels : {map code: pixels}
    points : int
        Points read (labelled or not).
    unlabelled : int
        Points without a reference code (empty or 0), left out.
    """

    pairs: dict[tuple[int, int], int] = field(default_factory=dict)
    stratum_pixels: dict[int, int] = field(default_factory=dict)
    points: int = 0
    unlabelled: int = 0


def resolve_design(design: str, field_names: Iterable[str], is_points: bool) -> str:
    """``auto`` -> ``stratified`` for points that carry :data:`STRATUM_FIELDS`, else ``none``."""
    if design != "auto":
        return design
    return "stratified" if is_points and set(STRATUM_FIELDS) <= set(field_names) else "none"


def read_probability_sample(points_path: str, layer: str | int | None, reference_field: str,
                            class_map: ClassMap, design: str, legend_codes: Iterable[int] = (),
                            reporter: Reporter | None = None,
                            is_canceled: Callable[[], bool] | None = None) -> ProbabilitySample:
    """Read the labelled points (in the map's CRS) and the strata's sizes.

    Raises
    ------
    UserInputError
        Points outside the map or on its nodata (REFERENCE), a point whose stratum is not the map
        class under it or whose stratum sizes disagree (REFERENCE), reference codes that are not
        classes of the map (FIELD), no labelled point (FIELD).
    """
    sampler = BlockSampler(open_raster(class_map.path, "INPUT"))
    stratified = design == "stratified"
    fields = [reference_field] + (list(STRATUM_FIELDS) if stratified else [])
    sample = ProbabilitySample()
    sizes: dict[int, set[int]] = {}
    totals: set[int] = set()
    outside = nodata = 0
    for batch in iter_point_batches(points_path, layer, fields):
        raise_if_canceled(is_canceled)
        sample.points += len(batch.x)
        rows, cols, inside = class_map.grid.pixel_of(batch.x, batch.y)
        outside += int((~inside).sum())
        values = sampler.sample(rows[inside], cols[inside], is_canceled)
        mapped = np.zeros(len(batch.x), dtype=np.int64)
        mapped[inside] = values[0]
        valid = np.zeros(len(batch.x), dtype=bool)
        valid[inside] = sampler.bands.valid(values)
        nodata += int((inside & ~valid).sum())
        reference = _integers(batch.columns[reference_field], 0)
        labelled = reference > 0
        sample.unlabelled += int((~labelled).sum())
        if stratified:
            _check_strata(batch.columns, mapped, inside, sizes, totals)
        for ref, code in zip(reference[labelled & inside].tolist(), mapped[labelled & inside].tolist(),
                             strict=True):
            sample.pairs[(ref, code)] = sample.pairs.get((ref, code), 0) + 1
    if outside or nodata:
        raise UserInputError(
            f"{outside} of {sample.points} points lie outside the map and {nodata} on its nodata; a "
            "probability sample's points lie on mapped pixels. Use the points drawn from this map "
            "by 'Stratified random points', or choose the design 'not a probability sample'.", "REFERENCE")
    if stratified:
        sample.stratum_pixels = _strata_sizes(sizes, totals)
    else:
        sample.stratum_pixels = count_classes(class_map, reporter=reporter, is_canceled=is_canceled)
    _check_reference_codes(sample, legend_codes, reference_field)
    return sample


def _integers(column: np.ndarray, fill: int) -> np.ndarray:
    """An integer field of a point batch as int64, ``fill`` where it is empty (NULL)."""
    values, present = masked_integers(column)
    return np.where(present, values, fill)


def _check_strata(columns, mapped: np.ndarray, inside: np.ndarray, sizes: dict[int, set[int]],
                  totals: set[int]) -> None:
    strata = _integers(columns["stratum"], -1)
    wrong = inside & (strata != mapped)
    if wrong.any():
        first = int(np.flatnonzero(wrong)[0])
        raise UserInputError(
            f"{int(wrong.sum())} points have a stratum that is not the map class under them (e.g. "
            f"stratum {int(strata[first])} on class {int(mapped[first])}): the points were drawn from "
            "another map. Assess the map they were drawn from, or draw new points from this one.",
            "REFERENCE")
    pixels = _integers(columns["stratum_px"], -1)
    for code, n in set(zip(strata.tolist(), pixels.tolist(), strict=True)):
        sizes.setdefault(code, set()).add(n)
    totals.update(_integers(columns["map_px"], -1).tolist())


def _strata_sizes(sizes: dict[int, set[int]], totals: set[int]) -> dict[int, int]:
    mixed = sorted(code for code, values in sizes.items() if len(values) != 1 or min(values) < 1)
    if mixed or len(totals) != 1 or min(totals) < 1:
        raise UserInputError(
            "the points' stratum_px or map_px fields are empty or differ between points of one "
            f"stratum{f' (strata {mixed})' if mixed else ''}; they must be as 'Stratified random "
            "points' wrote them. Draw the points again, or choose the design 'simple random'.", "REFERENCE")
    strata = {code: next(iter(values)) for code, values in sorted(sizes.items())}
    total = next(iter(totals))
    if sum(strata.values()) != total:
        missing = total - sum(strata.values())
        raise UserInputError(
            f"the points cover strata with {sum(strata.values())} of the map's {total} pixels: every "
            f"point of the strata holding the other {missing} pixels was deleted. Each stratum needs "
            "its points (at least 2 labelled); draw the points again.", "REFERENCE")
    return strata


def _check_reference_codes(sample: ProbabilitySample, legend_codes: Iterable[int], field_name: str) -> None:
    known = set(sample.stratum_pixels) | {int(c) for c in legend_codes}
    foreign: dict[int, int] = {}
    for (reference, _), n in sample.pairs.items():
        if reference not in known:
            foreign[reference] = foreign.get(reference, 0) + n
    if foreign:
        listed = ", ".join(f"{code} ({n} points)" for code, n in sorted(foreign.items()))
        raise UserInputError(
            f"the reference codes {listed} in field '{field_name}' are not classes of the map (its "
            f"classes: {sorted(known)}); label the points with the map's class codes, or recode the "
            "map and the labels to one legend.", "FIELD")
    if not sample.pairs:
        raise UserInputError(
            f"none of the {sample.points} points has a reference code in field '{field_name}'; fill it "
            "with the class seen on the reference data (and choose that field).", "FIELD")
