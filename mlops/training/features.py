"""Input text and sparse features for the tag designs.

What a model reads of a link (:func:`model_text`): the title, the description, the URL's words
(host labels and path segments split on punctuation, minus ``http``/``www`` and the like) and,
when the link has a snapshot, the first ``snapshot_chars`` characters of its readable text.
The domain (host without ``www.`` and port) is a feature of its own, ``domain:<host>``, so that
``github.com`` is one signal and not three words.

Two sparse feature spaces share one interface (:class:`SparseFeatures`):

* :class:`TfidfFeatures`: word uni- and bigrams (sublinear TF-IDF, English stop words), char
  n-grams inside word boundaries (``char_wb``, 3-5, sublinear TF-IDF) and the domain. Needs a
  ``fit`` to learn its vocabulary.
* :class:`HashedFeatures`: the same three blocks through ``HashingVectorizer``: no vocabulary,
  no fit, so any new word or domain maps to a column at once (used by incremental learning).

Both can say which words of an example carry a linear model's score
(:meth:`SparseFeatures.term_contributions`): each active column's ``value * weight`` is given to
the words it came from (a bigram's half to each word, a char n-gram's share to every word that
contains it), so an explanation is always made of words that are in the link's own text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize

from .data import Example

__all__ = [
    "SNAPSHOT_CHARS",
    "HashedFeatures",
    "SparseFeatures",
    "TfidfFeatures",
    "embedding_text",
    "model_text",
    "url_domain",
    "url_tokens",
]

SNAPSHOT_CHARS = 2000  # snapshot text beyond this adds cost and mostly boilerplate
_URL_STOP = frozenset({"http", "https", "www", "com", "org", "net", "io", "html", "htm", "php", "index"})
_SPLIT = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"(?u)\b\w\w+\b")


def url_domain(url: str) -> str:
    """The host in lower case, without ``www.`` and port; "" when the URL has none."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def url_tokens(url: str) -> list[str]:
    """Words of a URL's host and path: ``https://github.com/foo/bar-baz`` -> github foo bar baz."""
    try:
        parts = urlsplit(url.strip().lower())
    except ValueError:
        return []
    words = _SPLIT.split(f"{parts.hostname or ''} {parts.path}")
    return [w for w in words if len(w) > 1 and w not in _URL_STOP]


def model_text(example: Example, snapshot_chars: int = SNAPSHOT_CHARS) -> str:
    """Title, description, URL words and the start of the snapshot text, one string."""
    pieces = [example.title, example.description, " ".join(url_tokens(example.url))]
    if example.text and snapshot_chars > 0:
        pieces.append(example.text[:snapshot_chars])
    return " \n".join(p.strip() for p in pieces if p and p.strip())


def embedding_text(example: Example, snapshot_chars: int = SNAPSHOT_CHARS, with_title: bool = False) -> str:
    """What the sentence encoder reads: the description (else the title), then the snapshot text.

    The title is left out by default when there is a description: on the shared dataset titles are
    project names ("2FAuth", "0 A.D."), which move the sentence embedding without saying what the
    project does (cross-validated on the training part, see docs/tag-model.md).
    """
    head = example.description.strip()
    if with_title or not head:
        head = f"{example.title.strip()}. {head}".strip(". ") if head else example.title.strip()
    if not head:
        head = " ".join(url_tokens(example.url))
    if example.text and snapshot_chars > 0:
        head = f"{head}\n{example.text[:snapshot_chars]}"
    return head


def _domain_analyzer(url: str) -> list[str]:
    domain = url_domain(url)
    return [f"domain:{domain}"] if domain else []


class SparseFeatures:
    """Word, char n-gram and domain blocks side by side; see the module docstring."""

    word: Any
    char: Any
    domain: Any
    snapshot_chars: int

    def fit(self, examples: Sequence[Example]) -> SparseFeatures:
        return self

    def transform(self, examples: Sequence[Example]) -> sp.csr_matrix:
        texts = [model_text(ex, self.snapshot_chars) for ex in examples]
        urls = [ex.url for ex in examples]
        blocks = [self.word.transform(texts)]
        if self.char is not None:
            blocks.append(self.char.transform(texts))
        blocks.append(self.domain.transform(urls))
        return sp.hstack(blocks, format="csr", dtype=np.float64)

    @property
    def n_features(self) -> int:
        raise NotImplementedError

    def _word_columns(self, features: list[str]) -> list[int | None]:
        raise NotImplementedError

    def _char_columns(self, features: list[str]) -> list[int | None]:
        raise NotImplementedError

    def _domain_columns(self, features: list[str]) -> list[int | None]:
        raise NotImplementedError

    def term_contributions(self, example: Example, weights: np.ndarray) -> dict[str, float]:
        """``value * weight`` of every active column, given back to the words of the example.

        ``weights`` is a linear model's coefficient vector for one tag over this feature space.
        Keys are lower-case words of :func:`model_text` and the bare domain (``github.com``).
        """
        row = self.transform([example])
        value = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        text = model_text(example, self.snapshot_chars)
        words = _WORD.findall(text.lower())
        out: dict[str, float] = defaultdict(float)

        word_feats = sorted(set(self.word.build_analyzer()(text)))
        for feat, col in zip(word_feats, self._word_columns(word_feats), strict=True):
            if col is None or col not in value:
                continue
            parts = feat.split(" ")
            for part in parts:
                out[part] += value[col] * float(weights[col]) / len(parts)

        char_feats = sorted(set(self.char.build_analyzer()(text))) if self.char is not None else []
        padded = [(w, f" {w} ") for w in set(words)]
        for feat, col in zip(char_feats, self._char_columns(char_feats), strict=True):
            if col is None or col not in value:
                continue
            owners = [w for w, p in padded if feat in p]
            for owner in owners:
                out[owner] += value[col] * float(weights[col]) / len(owners)

        dom_feats = _domain_analyzer(example.url)
        for feat, col in zip(dom_feats, self._domain_columns(dom_feats), strict=True):
            if col is not None and col in value:
                out[feat.removeprefix("domain:")] += value[col] * float(weights[col])
        return dict(out)


class TfidfFeatures(SparseFeatures):
    """TF-IDF word (1-2) + char_wb (3-5) + domain; ``fit`` learns vocabularies and IDF."""

    def __init__(
        self,
        *,
        snapshot_chars: int = SNAPSHOT_CHARS,
        min_df: int = 1,
        char_min_df: int = 2,
        char_ngrams: tuple[int, int] | None = (3, 5),
        max_features: int | None = 200_000,
    ) -> None:
        self.snapshot_chars = snapshot_chars
        self.word = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=min_df,
            stop_words="english",
            max_features=max_features,
            dtype=np.float64,
        )
        self.char = (
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=char_ngrams,
                sublinear_tf=True,
                min_df=char_min_df,
                max_features=max_features,
                dtype=np.float64,
            )
            if char_ngrams
            else None
        )
        self.domain = TfidfVectorizer(analyzer=_domain_analyzer, use_idf=False, norm=None, binary=True)

    def fit(self, examples: Sequence[Example]) -> TfidfFeatures:
        texts = [model_text(ex, self.snapshot_chars) for ex in examples]
        self.word.fit(texts)
        if self.char is not None:
            self.char.fit(texts)
        urls = [ex.url for ex in examples]
        # A vocabulary needs at least one term; a corpus of URLs without hosts has none.
        self.domain.fit(urls if any(_domain_analyzer(u) for u in urls) else ["http://unknown.invalid"])
        return self

    def _sizes(self) -> tuple[int, int, int]:
        n_char = len(self.char.vocabulary_) if self.char is not None else 0
        return len(self.word.vocabulary_), n_char, len(self.domain.vocabulary_)

    @property
    def n_features(self) -> int:
        return sum(self._sizes())

    def _word_columns(self, features: list[str]) -> list[int | None]:
        return [self.word.vocabulary_.get(f) for f in features]

    def _char_columns(self, features: list[str]) -> list[int | None]:
        offset = self._sizes()[0]
        vocab = self.char.vocabulary_ if self.char is not None else {}
        return [None if (c := vocab.get(f)) is None else offset + c for f in features]

    def _domain_columns(self, features: list[str]) -> list[int | None]:
        offset = sum(self._sizes()[:2])
        return [None if (c := self.domain.vocabulary_.get(f)) is None else offset + c for f in features]

    def feature_names(self) -> np.ndarray:
        blocks = [self.word.get_feature_names_out()]
        if self.char is not None:
            blocks.append(self.char.get_feature_names_out())
        blocks.append(self.domain.get_feature_names_out())
        return np.concatenate(blocks)


class HashedFeatures(SparseFeatures):
    """The same blocks through the hashing trick: no vocabulary, so partial_fit never re-vectorises.

    ``fit`` learns document frequencies per hash column once (sublinear TF-IDF, like
    :class:`TfidfFeatures`); they stay frozen afterwards, and a column no fitted document had
    gets the largest IDF, as a rare word should. Unfitted, it is sublinear TF without IDF.
    """

    def __init__(self, *, snapshot_chars: int = SNAPSHOT_CHARS, n_bits: int = 18) -> None:
        self.snapshot_chars = snapshot_chars
        self.n_bits = n_bits
        common: dict[str, Any] = {"alternate_sign": False, "dtype": np.float64, "norm": None}
        self.word = HashingVectorizer(
            ngram_range=(1, 2), stop_words="english", n_features=2**n_bits, **common
        )
        self.char = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**n_bits, **common)
        self.domain = HashingVectorizer(analyzer=_domain_analyzer, n_features=2**10, binary=True, **common)
        self.weighting: list[TfidfTransformer] | None = None

    def fit(self, examples: Sequence[Example]) -> HashedFeatures:
        texts = [model_text(ex, self.snapshot_chars) for ex in examples]
        self.weighting = [
            TfidfTransformer(sublinear_tf=True).fit(vectorizer.transform(texts))
            for vectorizer in (self.word, self.char)
        ]
        return self

    def transform(self, examples: Sequence[Example]) -> sp.csr_matrix:
        texts = [model_text(ex, self.snapshot_chars) for ex in examples]
        blocks = []
        weighting = getattr(self, "weighting", None)  # artifacts written before IDF have none
        for i, vectorizer in enumerate((self.word, self.char)):
            counts = vectorizer.transform(texts)
            if weighting is not None:
                blocks.append(weighting[i].transform(counts))
            else:
                counts.data = 1.0 + np.log(counts.data)
                blocks.append(normalize(counts))
        blocks.append(self.domain.transform([ex.url for ex in examples]))
        return sp.hstack(blocks, format="csr", dtype=np.float64)

    @property
    def n_features(self) -> int:
        return 2 * 2**self.n_bits + 2**10

    def _hash(self, features: list[str], n_features: int, offset: int) -> list[int | None]:
        if not features:
            return []
        hasher = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False)
        rows = hasher.transform([[feat] for feat in features])
        return [offset + int(rows.indices[rows.indptr[i]]) for i in range(len(features))]

    def _word_columns(self, features: list[str]) -> list[int | None]:
        return self._hash(features, 2**self.n_bits, 0)

    def _char_columns(self, features: list[str]) -> list[int | None]:
        return self._hash(features, 2**self.n_bits, 2**self.n_bits)

    def _domain_columns(self, features: list[str]) -> list[int | None]:
        return self._hash(features, 2**10, 2 * 2**self.n_bits)
