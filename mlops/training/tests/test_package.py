"""The package's light parts load without numpy or scikit-learn, and its names load on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops import training as T

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("numpy", "scipy", "sklearn", "torch")


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [name for name in out.stdout.strip().split(",") if name]


def test_examples_and_metric_names_import_without_numpy_or_scikit_learn():
    """A fresh interpreter: the package, its data module and the metric names load nothing heavy."""
    statement = (
        "import mlops.training, mlops.training.data, mlops.training.metric_names\n"
        "from mlops.training.data import TEXT_CHARS, Example\n"
        "from mlops.training import Example as E2, TEXT_CHARS as T2"
    )
    assert _loaded_after(statement) == []
    assert "sklearn" in _loaded_after("from mlops.training import create_design")


def test_the_package_exports_lazily_and_names_its_submodules():
    assert T.Example is __import__("mlops.training.data", fromlist=["Example"]).Example
    assert callable(T.train) and callable(T.load)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = T.nonsense
    from mlops.training import drift  # a submodule, not an export

    assert drift.__name__ == "mlops.training.drift"
