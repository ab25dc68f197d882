"""Training examples: loading, deterministic splits and data fingerprints.

An :class:`Example` is one labelled link. ``tags`` are normalised on the way in (stripped,
lowercased, de-duplicated, order kept), so ``"Wikis"`` and ``"wikis "`` are the same label.

``split`` is decided per example by a salted hash of its URL, not by shuffling: an example
stays on the same side of the split however many examples are added or removed around it, so
the holdout of a growing dataset only ever gains rows, and two examples with the same URL
always land on the same side (no leakage through duplicates).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "TEXT_CHARS",
    "Example",
    "fingerprint",
    "hash_unit",
    "label_counts",
    "load_jsonl",
    "normalize_tags",
    "split",
]

# How much of a snapshot's readable text an example carries: the same for training, suggestions
# and drift checks, so the model is never scored on more (or less) text than it learned from.
TEXT_CHARS = 5000


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Strip, lowercase and de-duplicate tags, keeping their first-seen order; drop empties."""
    seen: dict[str, None] = {}
    for tag in tags:
        key = str(tag).strip().lower()
        if key:
            seen.setdefault(key, None)
    return list(seen)


@dataclass(frozen=True)
class Example:
    """One link with its human tags. ``text`` is the snapshot's readable text ("" when none)."""

    url: str
    title: str = ""
    description: str = ""
    text: str = ""
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", normalize_tags(self.tags))


def _as_str(value: object, key: str, line_no: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"line {line_no}: {key!r} must be a string, not {type(value).__name__}")
    return value


def load_jsonl(path: str | Path) -> list[Example]:
    """Read a dataset file: one JSON object a line, ``{"url", "title", "description", "tags"}``.

    ``text`` is read too when present; other keys are ignored, blank lines skipped. A line that
    is not a JSON object, lacks a URL or has tags that are not a list of strings raises
    ``ValueError`` naming the line number.
    """
    examples: list[Example] = []
    with Path(path).open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {line_no}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"line {line_no}: expected a JSON object, got {type(obj).__name__}")
            url = _as_str(obj.get("url"), "url", line_no).strip()
            if not url:
                raise ValueError(f"line {line_no}: 'url' is missing or empty")
            tags = obj.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError(f"line {line_no}: 'tags' must be a list of strings")
            examples.append(
                Example(
                    url=url,
                    title=_as_str(obj.get("title"), "title", line_no),
                    description=_as_str(obj.get("description"), "description", line_no),
                    text=_as_str(obj.get("text"), "text", line_no),
                    tags=tags,
                )
            )
    return examples


def hash_unit(key: str, seed: int) -> float:
    """A number in [0, 1) from SHA-256 of ``"<seed>:<key>"``: stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(
    examples: Sequence[Example], test_size: float = 0.25, seed: int = 42
) -> tuple[list[Example], list[Example]]:
    """Split into ``(train, test)``; an example is in test when ``hash_unit(url, seed) < test_size``.

    The test share is therefore ``test_size`` in expectation, not exactly (1,348 examples at 0.25
    give 338 test rows with seed 42). Input order is kept on both sides.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError("test_size must be between 0 and 1")
    train: list[Example] = []
    test: list[Example] = []
    for ex in examples:
        (test if hash_unit(ex.url, seed) < test_size else train).append(ex)
    return train, test


def fingerprint(examples: Iterable[Example]) -> str:
    """SHA-256 over a canonical serialisation: independent of example order and tag order."""
    rows = sorted(
        json.dumps(
            [ex.url, ex.title, ex.description, ex.text, sorted(ex.tags)],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for ex in examples
    )
    h = hashlib.sha256()
    for row in rows:
        h.update(row.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def label_counts(examples: Iterable[Example]) -> Counter[str]:
    """How many examples carry each tag."""
    return Counter(tag for ex in examples for tag in ex.tags)
