"""The guides' figures: tools/make_figures.py reproduces the committed img/*.svg byte for byte."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "make_figures.py"
IMG = REPO / "img"
FIGURES = ["rnn_cell.svg", "stacked_bidirectional.svg", "lstm_cell.svg", "gru_cell.svg", "activations.svg",
           "sequence_tasks.svg"]
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("figures")
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def test_the_script_writes_exactly_the_committed_figures(generated: Path) -> None:
    assert sorted(p.name for p in generated.iterdir()) == sorted(FIGURES)
    assert sorted(p.name for p in IMG.glob("*.svg")) == sorted(FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_committed_figure_is_up_to_date(generated: Path, name: str) -> None:
    fresh, committed = (generated / name).read_bytes(), (IMG / name).read_bytes()
    assert fresh == committed, (f"img/{name} differs from what tools/make_figures.py draws: "
                                f"run `python3 tools/make_figures.py` and commit img/{name}")


@pytest.mark.parametrize("name", FIGURES)
def test_figure_is_well_formed_svg(name: str) -> None:
    root = ET.parse(IMG / name).getroot()
    assert root.tag == SVG_NS + "svg"
    assert len(root) > 0
    assert float(root.get("width", "0")) > 0 and float(root.get("height", "0")) > 0
    assert root.find(SVG_NS + "title") is not None and root.find(SVG_NS + "title").text


def test_output_does_not_depend_on_the_run(tmp_path: Path, generated: Path) -> None:
    """A second run into another folder gives the same bytes (no timestamps, no randomness)."""
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    for name in FIGURES:
        assert (tmp_path / name).read_bytes() == (generated / name).read_bytes()
