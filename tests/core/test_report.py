"""HTML reports from a really trained model's metadata: self-contained, complete, readable."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from landcover_cnn_plugin.core.model_file import read_model_metadata
from landcover_cnn_plugin.core.report import write_accuracy_report
from landcover_cnn_plugin.core.splits import RANDOM_SPLIT_WARNING
from landcover_cnn_plugin.core.training_report import write_comparison_report, write_training_report
from lcnn_testing import small_model_file


@pytest.fixture(scope="module")
def metadata():
    return read_model_metadata(small_model_file())


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]


def test_training_report_is_complete_and_self_contained(metadata, tmp_path):
    path = write_training_report(tmp_path / "report.html", metadata)
    text = Path(path).read_text(encoding="utf-8")
    images = _images(text)
    assert len(images) == 2 and all(i.startswith(b"\x89PNG") for i in images)  # heat-map, curves
    assert not re.search(r'(src|href)="(?!data:)', text)  # nothing outside the file
    metrics = metadata["metrics"]
    assert f'{100 * metrics["overall_accuracy"]:.1f} %' in text
    assert f'{metrics["kappa"]:.3f}' in text and f'{metrics["macro_f1"]:.3f}' in text
    legend = metadata["legend"]
    for code, name, color in zip(legend["codes"], legend["names"], legend["colors"], strict=True):
        assert f"<td>{code}</td>" in text and name in text and color in text
    test_counts = metadata["split"]["counts"]["test"]
    assert f"<td>{sum(test_counts.values())}</td>" in text
    assert RANDOM_SPLIT_WARNING in text and "at random" in text
    assert text.count("<td class=diag>") == len(legend["codes"])
    assert "B8A" in text and "study_mlp" in text


def test_accuracy_and_comparison_reports(metadata, tmp_path):
    path = write_accuracy_report(tmp_path / "acc.html", metadata["metrics"],
                                 {"Class map": "map.tif", "colors": dict(zip(
                                     metadata["legend"]["codes"], metadata["legend"]["colors"],
                                     strict=True))})
    text = Path(path).read_text(encoding="utf-8")
    assert "User's accuracy" in text and "Producer's accuracy" in text and len(_images(text)) == 1
    rows = [{"set_name": "S2", "features": ["B03", "B04"], **{k: metadata["metrics"][k] for k in
             ("overall_accuracy", "kappa", "macro_f1")}},
            {"set_name": "S2 all", "features": "B03,B04,B05", "overall_accuracy": 0.5, "kappa": 0.4,
             "macro_f1": 0.3}]
    text = Path(write_comparison_report(tmp_path / "cmp.html", rows)).read_text(encoding="utf-8")
    assert "S2 all" in text and "B03, B04" in text and len(_images(text)) == 1
