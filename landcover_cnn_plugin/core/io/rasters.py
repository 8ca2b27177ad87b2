"""Opening rasters, naming and matching their bands, the nodata rule, reading windows.

The rules every raster reader of the plugin follows:

* **Band names**: a band is named by its description, ``band_<n>`` where it has none
  (:func:`band_names`). The samples CSV's band columns, a model's ``feature_names`` and the
  bands a model is applied to are all these names.
* **Band matching** (:func:`match_bands`): each wanted name must name exactly one band; a
  missing name or a name that several bands carry is refused (which band was meant cannot
  be told), with both lists in the message. Classification, patch cutting and evaluation
  match through it.
* **Validity** (:func:`valid_pixels`): a pixel is valid when, in every band, its value is
  finite (not NaN, not +-inf) and differs from the band's nodata value, compared exactly in
  the band's own type (:func:`band_nodata`; a Float32 band's nodata is rounded to float32
  first, an integer band's nodata that no value of its type can take marks nothing, as in
  GDAL). Values are read in a type that holds every band exactly (:func:`read_window`), so
  the comparison never rounds. (GDAL's own mask band also takes float values within 2 ULP of
  the nodata value as nodata; the samples CSV has always used exact equality.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, gdal_array

from ..errors import UserInputError
from .grid import Grid

#: (x_off, y_off, width, height) in pixels.
Window = tuple[int, int, int, int]


def open_raster(path: str | os.PathLike, parameter: str = "INPUT"):
    """Open a raster with GDAL (read-only); a :class:`UserInputError` naming ``parameter`` if it can't be."""
    try:
        dataset = gdal.Open(os.fspath(path))
    except RuntimeError as exc:
        raise UserInputError(f"cannot open the raster {path} ({exc}); choose a raster file GDAL "
                             "can read.", parameter) from None
    if dataset is None or dataset.RasterCount == 0:
        raise UserInputError(f"{path} is not a raster with bands; choose the band stack.", parameter)
    return dataset


def raster_grid(path: str | os.PathLike, parameter: str = "RASTER") -> Grid:
    """The :class:`Grid` of a raster file (refused, naming ``parameter``, if rotated or south-up)."""
    return Grid.from_dataset(open_raster(path, parameter), parameter)


def band_names(dataset) -> list[str]:
    """Name of every band in band order: its description, ``band_<n>`` where it has none."""
    return [dataset.GetRasterBand(i).GetDescription() or f"band_{i}"
            for i in range(1, dataset.RasterCount + 1)]


def match_bands(available: Sequence[str], wanted: Sequence[str], parameter: str = "INPUT",
                what: str = "the raster") -> list[int]:
    """Positions (0-based) in ``available`` of the ``wanted`` names, in the wanted order.

    Parameters
    ----------
    available : sequence of str
        Band names of ``what`` (a raster's :func:`band_names`, or a samples CSV's columns).
    wanted : sequence of str
        The names needed, e.g. a model's ``feature_names``, in the order they are needed.
    parameter, what : str
        The parameter and the words naming ``available`` in the message.

    Raises
    ------
    UserInputError
        A wanted name is missing from ``available`` or carried by several of its bands; the
        message gives both lists.
    """
    wanted, have = list(wanted), list(available)
    missing = [name for name in wanted if name not in have]
    repeated = sorted({name for name in wanted if have.count(name) > 1})
    if missing or repeated:
        problem = (f"no band of {what} is named {', '.join(missing)}" if missing
                   else f"several bands of {what} are named {', '.join(repeated)}")
        raise UserInputError(
            f"{problem}. The model needs the bands {wanted} (matched by band name, in this order); "
            f"the bands of {what} are {have}. Choose the stack the model or the samples come from, "
            "or name its bands accordingly (Stack and resample rasters, BAND_NAMES).", parameter)
    return [have.index(name) for name in wanted]


def numpy_type(gdal_type: int) -> np.dtype:
    """The NumPy dtype of a GDAL data type (``gdal.GDT_UInt16`` -> uint16)."""
    return np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(gdal_type))


def gdal_type(dtype: np.dtype | type) -> int:
    """The GDAL data type of a NumPy dtype (uint16 -> ``gdal.GDT_UInt16``)."""
    return gdal_array.NumericTypeCodeToGDALTypeCode(np.dtype(dtype).type)


def band_nodata(value: float | None, dtype: np.dtype) -> np.generic | None:
    """A band's nodata value as a value of the band's own type; None when no value can equal it.

    NaN and +-inf give None: such values are never valid anyway (:func:`valid_pixels`). An
    integer band's nodata that is not an integer of its range (-1 on UInt16, 0.5) marks nothing,
    as in GDAL; a float nodata is rounded to the band's float type (-3.4028234663852886e38 given
    as a double matches float32's lowest value).
    """
    if value is None or not math.isfinite(value):
        return None
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        if value != math.floor(value) or not limits.min <= value <= limits.max:
            return None
        return dtype.type(int(value))
    with np.errstate(over="ignore"):
        typed = dtype.type(value)
    return typed if np.isfinite(typed) else None


def valid_pixels(values: np.ndarray, nodata: Sequence[np.generic | None]) -> np.ndarray:
    """The one validity rule: True where every band holds data.

    Parameters
    ----------
    values : ndarray, shape (bands, ...)
        Values as read by :func:`read_window` (a type that holds every band exactly).
    nodata : sequence of scalar or None
        Per band, from :func:`band_nodata` (``RasterBands.nodata``).

    Returns
    -------
    ndarray, shape (...), bool
        Finite in every band and different from every band's nodata value.
    """
    valid = np.ones(values.shape[1:], dtype=bool)
    if values.dtype.kind in "fc":
        valid &= np.isfinite(values).all(axis=0)
    for band, value in enumerate(nodata):
        if value is not None:
            valid &= values[band] != value
    return valid


@dataclass(frozen=True)
class RasterBands:
    """Bands of a raster chosen for reading, with their names, types and nodata values.

    Attributes
    ----------
    numbers : tuple of int
        1-based GDAL band numbers, in reading order.
    names : tuple of str
        Their names (:func:`band_names`).
    dtypes : tuple of numpy.dtype
        Their data types.
    nodata : tuple of (scalar or None)
        Their nodata values in their own types (:func:`band_nodata`).
    """

    numbers: tuple[int, ...]
    names: tuple[str, ...]
    dtypes: tuple[np.dtype, ...]
    nodata: tuple[np.generic | None, ...]

    @classmethod
    def of(cls, dataset, names: Sequence[str] | None = None, parameter: str = "INPUT") -> RasterBands:
        """Every band of ``dataset`` (``names`` None), or the bands ``names`` match, in that order."""
        if names is None:
            return cls.numbered(dataset, range(1, dataset.RasterCount + 1))
        return cls.numbered(dataset, [position + 1 for position in
                                      match_bands(band_names(dataset), names, parameter)])

    @classmethod
    def numbered(cls, dataset, numbers: Sequence[int]) -> RasterBands:
        """The bands ``numbers`` (1-based) of ``dataset``, in that order."""
        names = band_names(dataset)
        bands = [dataset.GetRasterBand(number) for number in numbers]
        dtypes = tuple(numpy_type(band.DataType) for band in bands)
        return cls(tuple(numbers), tuple(names[number - 1] for number in numbers), dtypes,
                   tuple(band_nodata(band.GetNoDataValue(), dtype)
                         for band, dtype in zip(bands, dtypes, strict=True)))

    @property
    def dtype(self) -> np.dtype:
        """A type that holds every band's values exactly (uint16 and float32 bands: float32)."""
        return np.result_type(*self.dtypes)

    def valid(self, values: np.ndarray) -> np.ndarray:
        """:func:`valid_pixels` of values read from these bands."""
        return valid_pixels(values, self.nodata)


def read_window(dataset, window: Window, bands: Sequence[int] | None = None) -> np.ndarray:
    """Read a window of some bands in a type that holds each of them exactly.

    Parameters
    ----------
    dataset : osgeo.gdal.Dataset
    window : (x_off, y_off, width, height)
        Pixels, inside the raster.
    bands : sequence of int, optional
        1-based band numbers in the wanted order (default: all bands).

    Returns
    -------
    ndarray, shape (n_bands, height, width)
        In the bands' common type (``RasterBands.dtype``): GDAL alone would read mixed
        Int32 and Float32 bands as float32 and round the integers.
    """
    numbers = list(bands) if bands is not None else list(range(1, dataset.RasterCount + 1))
    dtype = np.result_type(*[numpy_type(dataset.GetRasterBand(n).DataType) for n in numbers])
    x_off, y_off, width, height = window
    data = dataset.ReadAsArray(x_off, y_off, width, height, band_list=numbers,
                               buf_type=gdal_type(dtype))
    if data is None:
        raise OSError(f"GDAL could not read the window {tuple(window)} of {dataset.GetDescription()}")
    return data[np.newaxis] if data.ndim == 2 else data


def read_decimated(dataset, max_pixels: int, band: int = 1) -> np.ndarray:
    """One band, whole but decimated (nearest) to about ``max_pixels`` pixels at most: (rows, cols)."""
    width, height = dataset.RasterXSize, dataset.RasterYSize
    scale = max(1.0, math.sqrt(width * height / max_pixels))
    return dataset.GetRasterBand(band).ReadAsArray(buf_xsize=max(1, int(width / scale)),
                                                   buf_ysize=max(1, int(height / scale)))


def set_cache_mb(megabytes: float) -> None:
    """Size of GDAL's block cache for this process, MiB."""
    gdal.SetCacheMax(int(megabytes * 1024 * 1024))
