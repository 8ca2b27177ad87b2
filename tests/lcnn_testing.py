"""Helpers for the tests (importable as ``lcnn_testing``; no qgis, no TensorFlow)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_data" / "s2_brandenburg"
IMG_DIR = SAMPLE_DIR / "IMG_DATA"
STUDY_BANDS = ["B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]


def band_path(band: str) -> Path:
    return IMG_DIR / f"T33UUU_20170216T102101_{band}.jp2"


@dataclass
class ProcessResult:
    returncode: int
    stdout: str
    stderr: str
    json: dict[str, Any] | None

    @property
    def results(self) -> dict[str, Any]:
        assert self.json is not None, f"no JSON from qgis_process:\n{self.stdout}\n{self.stderr}"
        return self.json["results"]

    @property
    def text(self) -> str:
        return self.stdout + "\n" + self.stderr


class QgisProcessRunner:
    """Runs the real ``qgis_process.bin`` through ``scripts/qgis_process.sh``."""

    def __init__(self, script: Path) -> None:
        self.script = script

    def __call__(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run([str(self.script), *args], capture_output=True, text=True,
                              timeout=timeout, env=full_env)

    @staticmethod
    def parameters(params: dict[str, Any]) -> list[str]:
        """``{"INPUT": ["a", "b"], "X": 1}`` -> ``["--INPUT=a", "--INPUT=b", "--X=1"]``."""
        args = []
        for name, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            args += [f"--{name}={v}" for v in values]
        return args

    def run(self, algorithm: str, params: dict[str, Any], timeout: float = 600,
            env: dict[str, str] | None = None) -> ProcessResult:
        proc = self("--json", "run", algorithm, *self.parameters(params), timeout=timeout, env=env)
        data = None
        start = proc.stdout.find("{")
        if start >= 0:
            try:
                data = json.loads(proc.stdout[start:])
            except json.JSONDecodeError:
                data = None
        return ProcessResult(proc.returncode, proc.stdout, proc.stderr, data)
