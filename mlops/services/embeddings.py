"""Each link's sentence embedding, computed once and cached in ``LinkEmbedding``; tag names'
embeddings, cached per process.

A link is embedded when it is saved and again when its snapshot brings text (the text's hash
tells a stale row). Personal models, zero-shot suggestions and their training read the cache;
a missing or stale vector is computed on the spot (in the ml worker) and stored.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from linkhub.links.models import Link

from ..models import LinkEmbedding
from ..training.data import TEXT_CHARS, Example
from ..training.embedding import DEFAULT_ENCODER, EmbeddingUnavailable, embed
from ..training.features import embedding_text

__all__ = ["ENCODER", "EmbeddingUnavailable", "link_text", "link_vectors", "links_embed", "tag_name_vectors"]

logger = logging.getLogger(__name__)
ENCODER = DEFAULT_ENCODER
DIM = 384
NAME_CACHE_SIZE = 20_000
_names: OrderedDict[str, np.ndarray] = OrderedDict()
_names_lock = threading.Lock()


def link_text(*, url: str, title: str, description: str, content_text: str) -> str:
    """What the encoder reads for a link (the same text the shared embedding designs read)."""
    return embedding_text(
        Example(
            url=url, title=title, description=description, text=(content_text or "")[:TEXT_CHARS], tags=[]
        )
    )


def _sha(text: str) -> str:
    return hashlib.sha256(f"{ENCODER}\n{text}".encode()).hexdigest()


def _decode(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f2").astype(np.float32)


def _encode(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def link_vectors(link_ids: Iterable[int], *, compute: bool = True) -> dict[int, np.ndarray]:
    """{link id: unit vector} for links that exist; with ``compute``, missing or stale vectors
    are computed and stored first (raises EmbeddingUnavailable without the encoder)."""
    ids = list(dict.fromkeys(int(i) for i in link_ids))
    if compute:
        links_embed(ids)
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), 2000):
        for link_id, data in LinkEmbedding.objects.filter(
            link_id__in=ids[start : start + 2000], encoder=ENCODER
        ).values_list("link_id", "vector"):
            out[link_id] = _decode(data)
    return out


def links_embed(link_ids: Sequence[int], *, batch: int = 256) -> int:
    """Embed the links whose vector is missing or stale. Returns how many were embedded."""
    done = 0
    for start in range(0, len(link_ids), batch):
        chunk = list(link_ids[start : start + batch])
        have = dict(
            LinkEmbedding.objects.filter(link_id__in=chunk, encoder=ENCODER).values_list(
                "link_id", "text_sha256"
            )
        )
        todo: list[tuple[int, str, str]] = []
        for row in Link.objects.filter(pk__in=chunk).values(
            "pk", "url", "title", "description", "content_text"
        ):
            text = link_text(
                url=row["url"],
                title=row["title"],
                description=row["description"],
                content_text=row["content_text"],
            )
            sha = _sha(text)
            if have.get(row["pk"]) != sha:
                todo.append((row["pk"], text, sha))
        if not todo:
            continue
        vectors = embed([text for _, text, _ in todo], ENCODER)
        now = timezone.now()
        for (link_id, _, sha), vector in zip(todo, vectors, strict=True):
            try:
                with transaction.atomic():
                    LinkEmbedding.objects.update_or_create(
                        link_id=link_id,
                        defaults={
                            "encoder": ENCODER,
                            "text_sha256": sha,
                            "vector": _encode(vector),
                            "updated_at": now,
                        },
                    )
            except IntegrityError:  # the link was deleted meanwhile
                continue
            done += 1
    return done


def tag_name_vectors(names: Iterable[str]) -> dict[str, np.ndarray]:
    """{name: unit vector} of tag names, cached per process (LRU of NAME_CACHE_SIZE names)."""
    wanted = list(dict.fromkeys(names))
    out: dict[str, np.ndarray] = {}
    missing = []
    with _names_lock:
        for name in wanted:
            if name in _names:
                _names.move_to_end(name)
                out[name] = _names[name]
            else:
                missing.append(name)
    if missing:
        # A tag name such as "self-hosted/photos" reads better to the encoder with spaces.
        vectors = embed(
            [name.replace("-", " ").replace("_", " ").replace("/", " / ") for name in missing], ENCODER
        )
        with _names_lock:
            for name, vector in zip(missing, vectors, strict=True):
                _names[name] = vector
                out[name] = vector
            while len(_names) > NAME_CACHE_SIZE:
                _names.popitem(last=False)
    return out


def cached_by_text(texts: Sequence[str], encoder: str) -> dict[str, np.ndarray]:
    """{text: vector} of the texts some link's cached embedding was computed from (the source
    that ``training.embedding.vectors_from`` takes, so training re-uses the cache)."""
    if encoder != ENCODER:
        return {}
    by_sha = {_sha(t): t for t in dict.fromkeys(texts)}
    out: dict[str, np.ndarray] = {}
    shas = list(by_sha)
    for start in range(0, len(shas), 2000):
        for sha, data in (
            LinkEmbedding.objects.filter(text_sha256__in=shas[start : start + 2000], encoder=ENCODER)
            .values_list("text_sha256", "vector")
            .distinct()
        ):
            out[by_sha[sha]] = _decode(data)
    return out
