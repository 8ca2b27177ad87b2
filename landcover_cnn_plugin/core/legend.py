"""Class legend: class codes <-> ordered class ids <-> names <-> colours.

Class codes are the user's positive integers (OSM 7201..8221, ASLC 41..552); they are
not contiguous. Networks need ids 0..n-1: the legend sorts the codes ascending and
numbers them in that order. Ids are internal only: maps, reports and messages show codes and
names (:func:`class_label`). Labels given as text (class names) get codes by
:func:`codes_for_text_labels`.

Imports only the standard library and NumPy (usable in the QGIS process).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .csv_format import detect_csv_format
from .errors import UserInputError

# A readable qualitative palette (Tableau 10 + 10 lighter tints): distinct on screen and print.
DEFAULT_PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63",
    "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e",
]
_COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


def default_color(index: int) -> str:
    """Colour ``index`` of the default palette (repeats after 20 classes)."""
    return DEFAULT_PALETTE[index % len(DEFAULT_PALETTE)]


def default_name(code: int) -> str:
    """The name of a class without one: ``"class <code>"``."""
    return f"class {code}"


def class_label(code: int, name: str | None = None) -> str:
    """How messages and logs name a class: ``"5 (Soil)"``, or ``"5"`` without a name of its own."""
    return f"{code} ({name})" if name and name != default_name(code) else str(code)


def codes_for_text_labels(names: Iterable[str], legend: ClassLegend | None = None,
                          drop_unknown: bool = False) -> dict[str, int]:
    """Class codes of labels given as text (class names such as ``"Roof"``).

    Without a legend the names are numbered 1, 2, ... in alphabetical order (ignoring case, then
    exactly): the same set of names always gets the same codes, whatever the row order. With a
    legend (a legend CSV's ``code,name``), each name gets the code the legend gives it.

    Raises
    ------
    UserInputError
        A name the legend lacks (unless ``drop_unknown``: it is left out of the result).
    """
    distinct = sorted(set(names), key=lambda name: (name.casefold(), name))
    if legend is None:
        return {name: code for code, name in enumerate(distinct, start=1)}
    code_of = {name: code for code, name in zip(legend.codes, legend.names, strict=True)}
    unknown = [name for name in distinct if name not in code_of]
    if unknown and not drop_unknown:
        raise UserInputError(
            f"the class names {unknown[:20]} are not in the legend ({', '.join(legend.names)}); add "
            "them to the legend CSV (code,name,color) or correct the labels.", "LABEL")
    return {name: code_of[name] for name in distinct if name in code_of}


class ClassLegend:
    """Codes, names and colours of the classes of one model.

    Parameters
    ----------
    codes : sequence of int
        Class codes (positive integers, unique). Stored sorted ascending; class id ``i``
        is ``codes[i]`` in that order.
    names : sequence of str or mapping code -> str, optional
        Names aligned with ``codes`` as given (before sorting), or a mapping from code to
        name. Default ``"class <code>"``.
    colors : sequence of str or mapping code -> str, optional
        ``#rrggbb`` colours, aligned like ``names``. Default: :data:`DEFAULT_PALETTE` in id order.

    Raises
    ------
    UserInputError
        Codes not positive integers or repeated, a colour not ``#rrggbb``, or lengths
        that do not match (parameter ``LEGEND``).
    """

    def __init__(self, codes: Sequence[int], names: Sequence[str] | Mapping[int, str] | None = None,
                 colors: Sequence[str] | Mapping[int, str] | None = None) -> None:
        given = [_as_code(code) for code in codes]
        if len(set(given)) != len(given):
            repeated = sorted({code for code in given if given.count(code) > 1})
            raise UserInputError(f"class codes must be unique; repeated: {repeated}.", "LEGEND")
        if not given:
            raise UserInputError("the legend needs at least one class code.", "LEGEND")
        name_of = _aligned(given, names, "names")
        color_of = _aligned(given, colors, "colors")
        self.codes: list[int] = sorted(given)
        self.names: list[str] = [str(name_of.get(code) or default_name(code)) for code in self.codes]
        self.colors: list[str] = []
        for index, code in enumerate(self.codes):
            color = color_of.get(code) or default_color(index)
            if not _COLOR_PATTERN.match(str(color)):
                raise UserInputError(
                    f"colour {color!r} of class {code} is not of the form #rrggbb.", "LEGEND")
            self.colors.append(str(color).lower())
        self._id_of = {code: index for index, code in enumerate(self.codes)}

    # --- sizes and lookups --------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return len(self.codes)

    def __len__(self) -> int:
        return len(self.codes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassLegend) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ClassLegend(codes={self.codes}, names={self.names})"

    def name_of(self, code: int) -> str:
        """Name of class ``code``."""
        return self.names[self._id_of[int(code)]]

    def label_of(self, code: int) -> str:
        """Class ``code`` as messages name it (:func:`class_label`): ``"5 (Soil)"``."""
        return class_label(int(code), self.name_of(code))

    def labels_of_ids(self, ids: Iterable[int]) -> str:
        """The classes of internal ids ``ids`` as messages name them, comma-separated."""
        return ", ".join(self.label_of(self.codes[int(i)]) for i in ids)

    def ids_from_codes(self, codes: Iterable[int] | np.ndarray) -> np.ndarray:
        """Class ids (int32, shape like ``codes``) of the given codes.

        Raises
        ------
        UserInputError
            A code that is not in the legend (parameter ``LABEL``), listing them.
        """
        array = np.asarray(codes)
        unique, inverse = np.unique(array, return_inverse=True)
        unknown = [int(code) for code in unique if int(code) not in self._id_of]
        if unknown:
            raise UserInputError(
                f"class codes {unknown[:20]} are not in the legend {self.codes}; add them to the "
                "legend or drop those samples.", "LABEL")
        lookup = np.array([self._id_of[int(code)] for code in unique], dtype=np.int32)
        return lookup[inverse].reshape(array.shape)

    def codes_from_ids(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Class codes (int64, shape like ``ids``) of class ids 0..n-1."""
        array = np.asarray(ids, dtype=np.int64)
        if array.size and (array.min() < 0 or array.max() >= self.n_classes):
            raise ValueError(f"class ids must lie in 0..{self.n_classes - 1}")
        return np.asarray(self.codes, dtype=np.int64)[array]

    # --- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, list[Any]]:
        """``{"codes": [...], "names": [...], "colors": [...]}`` (the model file's ``legend``)."""
        return {"codes": list(self.codes), "names": list(self.names), "colors": list(self.colors)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassLegend:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(data["codes"], data.get("names"), data.get("colors"))
        except (KeyError, TypeError) as exc:
            raise UserInputError(f"the legend is incomplete ({exc}).", "LEGEND") from exc

    @classmethod
    def from_csv(cls, path: str, codes: Iterable[int] | None = None) -> ClassLegend:
        """Read a legend CSV with columns ``code,name[,color]`` (header row; any dialect
        :func:`.csv_format.detect_csv_format` recognises).

        Parameters
        ----------
        path : str
            The CSV file.
        codes : iterable of int, optional
            The codes present in the samples. Every one must be in the CSV; the legend then
            holds only these codes (so that ids stay 0..n-1 over the classes trained).
        """
        found = detect_csv_format(path, "LEGEND", "the legend file")
        rows = list(found.rows(path))
        if "code" not in found.columns or not rows:
            raise UserInputError(
                f"the legend file {path} needs a header row with the columns code,name,color and a row "
                f"per class; its columns are {found.columns}.", "LEGEND")
        names, colors = {}, {}
        for line, row in enumerate(rows, start=2):
            try:
                code = _as_code(row["code"])
            except UserInputError as exc:
                raise UserInputError(f"{path}, line {line}: {exc.message}", "LEGEND") from exc
            names[code] = (row.get("name") or "").strip() or None
            colors[code] = (row.get("color") or "").strip() or None
        wanted = sorted(names) if codes is None else sorted({int(code) for code in codes})
        missing = [code for code in wanted if code not in names]
        if missing:
            raise UserInputError(
                f"the legend file {path} has no row for the class codes {missing}; add them.", "LEGEND")
        palette_colors = {code: colors[code] for code in wanted if colors[code]}
        return cls(wanted, {code: names[code] for code in wanted if names[code]}, palette_colors)


def _as_code(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"class code {value!r} is not a number.", "LEGEND") from None
    if not number.is_integer() or number <= 0:
        raise UserInputError(
            f"class code {value!r} is not a positive integer (0 means unlabelled).", "LEGEND")
    return int(number)


def _aligned(codes: list[int], values: Sequence[str] | Mapping[int, str] | None, what: str,
             ) -> dict[int, str]:
    if values is None:
        return {}
    if isinstance(values, Mapping):
        return {int(code): value for code, value in values.items()}
    values = list(values)
    if len(values) != len(codes):
        raise UserInputError(
            f"the legend has {len(codes)} codes but {len(values)} {what}.", "LEGEND")
    return dict(zip(codes, values, strict=True))
