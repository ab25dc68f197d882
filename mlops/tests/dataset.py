"""Where the tests find the labelled dataset: $LINKHUB_DATASET, else the shared copy next to the
repository, else the copy committed in mlops/tests/data/ (so the tests never skip)."""

from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SHARED = _HERE.parents[1].parent / "shared" / "datasets" / "awesome-selfhosted.jsonl"
_COPY = _HERE / "data" / "awesome-selfhosted.jsonl"

DATASET = Path(os.environ.get("LINKHUB_DATASET") or (_SHARED if _SHARED.is_file() else _COPY))
