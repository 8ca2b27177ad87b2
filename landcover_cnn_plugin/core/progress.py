"""Progress reporting shared by core functions, the worker and the command line."""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol, TextIO


class Reporter(Protocol):
    """What core functions call to report; the worker streams it, tests may collect it."""

    def progress(self, percent: float) -> None: ...

    def log(self, message: str) -> None: ...


class NullReporter:
    """Reports nothing (library use)."""

    def progress(self, percent: float) -> None:
        pass

    def log(self, message: str) -> None:
        pass


class JsonLinesReporter:
    """Writes one JSON object per line: the protocol between worker and plugin.

    Message types: ``progress`` (``value`` in percent), ``log`` (``message``,
    ``level`` ``info`` or ``debug``), ``result`` (``data``: a JSON object) and
    ``error`` (``message``, optional ``parameter``).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def _send(self, payload: dict[str, Any]) -> None:
        self.stream.write(json.dumps(payload) + "\n")
        self.stream.flush()

    def progress(self, percent: float) -> None:
        self._send({"type": "progress", "value": round(float(percent), 2)})

    def log(self, message: str, level: str = "info") -> None:
        self._send({"type": "log", "level": level, "message": message})

    def result(self, data: dict[str, Any]) -> None:
        self._send({"type": "result", "data": data})

    def error(self, message: str, parameter: str | None = None) -> None:
        self._send({"type": "error", "message": message, "parameter": parameter})


class TextReporter:
    """Human-readable reporting for the worker's command line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._last = -10.0

    def progress(self, percent: float) -> None:
        if percent >= 100 or percent - self._last >= 5:
            self._last = percent
            self.stream.write(f"{percent:5.1f} %\n")
            self.stream.flush()

    def log(self, message: str, level: str = "info") -> None:
        if level != "debug":
            self.stream.write(message + "\n")
            self.stream.flush()

    def result(self, data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        sys.stdout.flush()

    def error(self, message: str, parameter: str | None = None) -> None:
        self.stream.write(f"Error: {message}\n")
        self.stream.flush()


class ScaledReporter:
    """Maps a sub-task's 0-100 % onto a slice ``[start, stop]`` of the parent's range."""

    def __init__(self, parent: Reporter, start: float, stop: float) -> None:
        self.parent, self.start, self.stop = parent, start, stop

    def progress(self, percent: float) -> None:
        self.parent.progress(self.start + (self.stop - self.start) * percent / 100.0)

    def log(self, message: str) -> None:
        self.parent.log(message)
