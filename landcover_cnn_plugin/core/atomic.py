"""Write outputs under a temporary name and rename them when complete.

A user must never find a half-written file under the name they asked for: every
output goes to a hidden partial file in the same folder, which is renamed onto the
final path only when the writer succeeded, and deleted otherwise.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_MARK = ".part-"


def partial_path(final_path: str | os.PathLike, tag: str | None = None) -> str:
    """Return the temporary name used while ``final_path`` is written.

    The name keeps the folder and the extension (GDAL picks drivers by extension)
    and carries the process id, so that two writers never share a partial file.
    """
    final = Path(final_path)
    tag = tag or str(os.getpid())
    return str(final.with_name(f".{final.stem}{PARTIAL_MARK}{tag}{final.suffix}"))


def partial_files(final_path: str | os.PathLike) -> list[str]:
    """List leftover partial files of ``final_path`` (also GDAL side-cars such as ``.aux.xml``)."""
    final = Path(final_path)
    pattern = str(final.with_name(f".{glob.escape(final.stem)}{PARTIAL_MARK}*"))
    return sorted(glob.glob(pattern))


def remove_partial_files(final_path: str | os.PathLike) -> list[str]:
    """Delete every partial file of ``final_path``; return the deleted paths."""
    removed = []
    for path in partial_files(final_path):
        try:
            os.remove(path)
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


def check_output_folder(final_path: str | os.PathLike, parameter: str) -> None:
    """Refuse an output path whose folder is missing or not writable.

    Raises
    ------
    UserInputError
        Naming ``parameter`` and the folder.
    """
    from .errors import UserInputError

    folder = Path(final_path).expanduser().resolve().parent
    if not folder.is_dir():
        raise UserInputError(
            f"the folder {folder} does not exist; create it or choose another output path.",
            parameter,
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserInputError(
            f"the folder {folder} is not writable; choose an output path in a folder you can write to.",
            parameter,
        )


def commit_partial(tmp_path: str, final_path: str | os.PathLike) -> None:
    """Rename a finished partial file (and its ``.aux.xml`` side-car) onto ``final_path``."""
    os.replace(tmp_path, final_path)
    aux = tmp_path + ".aux.xml"
    if os.path.exists(aux):
        os.replace(aux, os.fspath(final_path) + ".aux.xml")


@contextmanager
def atomic_output(final_path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path to write; rename it to ``final_path`` on success.

    On any exception (cancel included) the partial file is deleted and the
    exception propagates; an existing file at ``final_path`` is only replaced
    once the new one is complete.
    """
    tmp = partial_path(final_path)
    try:
        yield tmp
        commit_partial(tmp, final_path)
    except BaseException:
        for leftover in (tmp, tmp + ".aux.xml"):
            if os.path.exists(leftover):
                os.remove(leftover)
        raise


@contextmanager
def atomic_files(final_path: str | os.PathLike) -> Iterator[str]:
    """Like :func:`atomic_output` for formats that write side-car files (Shapefile .dbf, .shx...).

    Every file named like the partial file is renamed to the final name on success and
    deleted on failure.
    """
    tmp = partial_path(final_path)
    tmp_stem = os.path.splitext(tmp)[0]
    final_stem = os.path.splitext(os.fspath(final_path))[0]
    try:
        yield tmp
        for path in sorted(glob.glob(glob.escape(tmp_stem) + ".*")):
            os.replace(path, final_stem + path[len(tmp_stem):])
    except BaseException:
        remove_partial_files(final_path)
        raise
