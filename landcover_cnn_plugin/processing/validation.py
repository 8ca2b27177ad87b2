"""Parameter checks shared by every algorithm: each returns a message for the user, or None.

Messages start with the parameter name, give the value found and say what to do, in the
form ``checkParameterValues`` returns (``return False, problem``). The layer/field/CRS/overlap
checks of the data preparation algorithms live in ``data_preparation.py`` (``integer_field_problem``,
``crs_problem``, ``extent_overlap_problem``, ``output_folder_problem``, ``check_polygons_and_grid``).
"""

from __future__ import annotations

import math
from typing import Any

from qgis.core import QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingParameterNumber


def _format_number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else f"{value:g}"


def number_range_problem(algorithm: QgsProcessingAlgorithm, parameters: dict[str, Any],
                         context: QgsProcessingContext) -> str | None:
    """The first numeric parameter whose value is not a number or lies outside its range, or None.

    QGIS itself only says "Incorrect parameter value for EPOCHS"; this names the allowed
    range, the value given and the parameter's label, e.g. ``EPOCHS (Maximum epochs): 0 is
    below the minimum 1; give a value of at least 1.`` Empty values of optional parameters
    and absent parameters (defaults) are left to QGIS.
    """
    for definition in algorithm.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterNumber):
            continue
        name = definition.name()
        raw = parameters.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        integer = definition.dataType() == QgsProcessingParameterNumber.Integer
        label = f"{name} ({definition.description()})"
        low, high = definition.minimum(), definition.maximum()
        bounds = _range_text(low, high, integer)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            if not isinstance(raw, str):
                continue  # an expression or a property: QGIS evaluates it
            return f"{label}: {raw!r} is not a number; give {bounds}."
        if math.isnan(value) or math.isinf(value):
            return f"{label}: {raw!r} is not a number; give {bounds}."
        if integer and value != int(value):
            return f"{label}: {raw!r} is not a whole number; give {bounds}."
        shown = _format_number(value, integer)
        if value < low:
            return f"{label}: {shown} is below the minimum {_format_number(low, integer)}; give {bounds}."
        if value > high:
            return f"{label}: {shown} is above the maximum {_format_number(high, integer)}; give {bounds}."
    return None


def _range_text(low: float, high: float, integer: bool) -> str:
    kind = "a whole number" if integer else "a number"
    has_low, has_high = low > -1e300, high < 1e300
    if has_low and has_high:
        return f"{kind} from {_format_number(low, integer)} to {_format_number(high, integer)}"
    if has_low:
        return f"{kind} of at least {_format_number(low, integer)}"
    if has_high:
        return f"{kind} of at most {_format_number(high, integer)}"
    return kind
