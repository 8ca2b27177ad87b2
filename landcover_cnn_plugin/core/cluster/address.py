"""The ``DASK_SCHEDULER`` parameter: empty, ``tcp://host:port`` or ``local:N`` (no Dask import)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UserInputError

#: Processing parameter (and worker option ``--scheduler``) naming the cluster.
SCHEDULER_PARAMETER = "DASK_SCHEDULER"
#: Most worker processes ``local:N`` starts.
MAX_LOCAL_WORKERS = 256

_LOCAL = re.compile(r"local:(\d+)")
_TCP = re.compile(r"tcp://([A-Za-z0-9.\-_]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})")


@dataclass(frozen=True)
class Scheduler:
    """Where a classification runs its blocks.

    Attributes
    ----------
    address : str
        ``tcp://host:port`` of a running Dask scheduler; '' for a local cluster.
    local_workers : int
        Worker processes of a cluster started on this machine for the run (0: ``address``).
    """

    address: str
    local_workers: int = 0

    def __str__(self) -> str:
        return self.address or f"local:{self.local_workers}"


def parse_scheduler(text: str | None) -> Scheduler | None:
    """The scheduler ``text`` names, or None (empty: this machine, no Dask).

    Raises
    ------
    UserInputError
        (``DASK_SCHEDULER``) for anything but ``tcp://host:port`` or ``local:N`` (1 <= N <= 256).
    """
    text = (text or "").strip()
    if not text:
        return None
    local = _LOCAL.fullmatch(text)
    if local and 1 <= int(local.group(1)) <= MAX_LOCAL_WORKERS:
        return Scheduler("", int(local.group(1)))
    tcp = _TCP.fullmatch(text)
    if tcp and 1 <= int(tcp.group(2)) <= 65535:
        return Scheduler(text)
    raise UserInputError(
        f"{text!r} names no Dask scheduler. Leave it empty to classify on this machine, give the "
        "address of a running scheduler as tcp://host:port (as 'dask scheduler' prints it, e.g. "
        f"tcp://10.0.0.5:8786), or local:N to start N worker processes on this machine (1 to "
        f"{MAX_LOCAL_WORKERS}) for this run.", SCHEDULER_PARAMETER)
