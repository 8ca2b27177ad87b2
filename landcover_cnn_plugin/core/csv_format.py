"""How a delimited text file was written: delimiter, decimal mark, encoding (stdlib only).

CSV files come out of GIS and spreadsheets in several dialects: ``,`` between fields and a decimal
point, or, where the comma is the decimal mark (much of Europe), ``;`` between fields and a decimal
comma; tab-separated text; UTF-8 with or without a byte-order mark (Excel writes one), or a Windows
code page. :func:`detect_csv_format` looks at the first lines and says which; the samples reader,
the legend reader and the QGIS side's header checks all read through it, so that a file is read as
it was written. Usable inside QGIS (no pandas).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import UserInputError

#: Field separators tried, in order of preference when several fit.
DELIMITERS = (",", ";", "\t", "|")
#: Bytes and lines looked at.
SNIFF_BYTES = 1 << 16
SNIFF_LINES = 200
_ENCODING_NAMES = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp1252": "Windows-1252 (not UTF-8)"}
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_COMMA_DECIMAL = re.compile(r"^[+-]?\d+,\d+(?:[eE][+-]?\d+)?$")
_POINT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")


@dataclass(frozen=True)
class CsvFormat:
    """The dialect of a delimited text file.

    Attributes
    ----------
    delimiter : str
        Field separator: ``,``, ``;``, tab or ``|``.
    decimal : str
        Decimal mark of the numbers: ``.`` or ``,``.
    encoding : str
        Python codec: ``utf-8-sig`` (UTF-8 with a byte-order mark), ``utf-8`` or ``cp1252``.
    columns : list of str
        The header row (names stripped of surrounding blanks).
    """

    delimiter: str
    decimal: str
    encoding: str
    columns: list[str]

    def describe(self) -> str:
        """E.g. "delimiter ';', decimal comma, UTF-8 with BOM, 14 columns"."""
        decimal = "decimal comma" if self.decimal == "," else "decimal point"
        return (f"delimiter {_DELIMITER_NAMES[self.delimiter]}, {decimal}, "
                f"{_ENCODING_NAMES[self.encoding]}, {len(self.columns)} columns")

    def rows(self, path: str | os.PathLike) -> Iterator[dict[str, str]]:
        """The file's data rows as ``{column: text}`` (the csv module; values as written)."""
        with open(path, newline="", encoding=self.encoding) as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            next(reader, None)
            for row in reader:
                if any(field.strip() for field in row):
                    yield dict(zip(self.columns, (field.strip() for field in row), strict=False))


def detect_csv_format(path: str | os.PathLike, parameter: str = "INPUT",
                      what: str = "the samples file") -> CsvFormat:
    """Detect how ``path`` is written from its first lines.

    The delimiter is the one of :data:`DELIMITERS` that splits every line looked at into the same
    number (more than one) of fields, quotes respected; the most fields win. The decimal mark is a
    comma when, with ``;``, tab or ``|`` between the fields, numbers such as ``0,25`` outnumber
    numbers such as ``0.25``.

    Raises
    ------
    UserInputError
        The file is missing, empty, not text, or no delimiter fits; the message says what was seen
        (``parameter`` named).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise UserInputError(f"cannot read {what} {path}: {exc.strerror}.", parameter) from exc
    if not head.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise UserInputError(f"{what} {path} is empty.", parameter)
    if len(head) == SNIFF_BYTES and b"\n" in head:  # whole lines only (no character cut in two)
        head = head[:head.rindex(b"\n") + 1]
    text, encoding = _decode(head, path, parameter, what)
    lines = [line for line in text.splitlines() if line.strip()][:SNIFF_LINES]
    delimiter, rows = _delimiter(lines)
    if delimiter is None:
        raise UserInputError(
            f"cannot read {what} {path} as a table: its first line is {lines[0][:160]!r} and no "
            "delimiter (',' ';' tab '|') splits every line into the same number of fields. Save it "
            "as CSV with one header row and the same columns on every line.", parameter)
    decimal = "."
    if delimiter != ",":
        fields = [field.strip() for row in rows[1:] for field in row]
        commas = sum(1 for field in fields if _COMMA_DECIMAL.match(field))
        points = sum(1 for field in fields if _POINT_DECIMAL.match(field))
        decimal = "," if commas > points else "."
    return CsvFormat(delimiter, decimal, encoding, [name.strip() for name in rows[0]])


def _decode(head: bytes, path, parameter: str, what: str) -> tuple[str, str]:
    """The text of ``head`` and its codec: UTF-8 (with or without BOM), else Windows-1252."""
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        return head.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if b"\0" not in head:  # spreadsheets on Windows save "CSV" in the Windows code page
        try:
            return head.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    start = max(0, utf8_error.start - 20)
    raise UserInputError(
        f"{what} {path} is not text in UTF-8 (byte 0x{head[utf8_error.start]:02x} at position "
        f"{utf8_error.start}, near {head[start:utf8_error.start + 20]!r}); save it as 'CSV UTF-8'.",
        parameter)


def _delimiter(lines: list[str]) -> tuple[str | None, list[list[str]]]:
    """The delimiter giving the same field count (> 1) on every line, and the lines split by it."""
    best: tuple[int, str, list[list[str]]] | None = None
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        widths = {len(row) for row in rows}
        if len(widths) == 1 and len(rows[0]) > 1 and (best is None or len(rows[0]) > best[0]):
            best = (len(rows[0]), delimiter, rows)
    return (best[1], best[2]) if best else (None, [])
