"""Drift statistics: pure functions on lists and arrays, no Django (scipy and scikit-learn are
imported only under ``mlops/training``).

A *profile* describes a set of inputs the same way for the training data (the reference, kept
on the model version) and for the links of a recent window (the current side)::

    {"format": 1, "n": int,
     "numeric": {feature: [values, up to 2,000]},
     "categorical": {"domain": {value: count, ..., "other": count}, "has_text": {...},
                     "language": {...} (only when some input has one)},
     "texts": [title + description + first 300 characters of the text, up to 500],
     "predicted_tags": {"n": int, "counts": {tag: count}, "shares": {tag: share}}}

``profile_compare(reference, current)`` returns one :class:`Verdict` per feature. The test
depends on the kind of feature and on how much data there is, and every verdict says why its
method was chosen (``details["reason"]``):

- numeric: two-sample Kolmogorov–Smirnov when both sides have at least 30 values; drift when
  p < 0.01.
- categorical: categories too rare to test (expected count below 5) are merged into "other";
  chi-square test of homogeneity when every expected count is then at least 5 and there are
  two categories or more (drift when p < 0.01), else the population stability index with
  smoothing when both sides have at least 30 values (drift when PSI ≥ 0.2).
- text: a domain classifier (TF-IDF and logistic regression) tries to tell reference texts from
  current ones; its cross-validated ROC AUC is the statistic; drift when AUC ≥ 0.7. Needs 30
  texts a side.
- predicted tags: PSI of the top-1 predicted tag; drift when PSI ≥ 0.2.

Anything with less data is ``insufficient_data``: no statistic and no verdict of drift.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
from scipy.stats import chi2_contingency, ks_2samp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

__all__ = [
    "AUC_MIN",
    "NUMERIC_FEATURES",
    "OTHER",
    "PSI_MIN",
    "P_VALUE_MAX",
    "Verdict",
    "categorical_drift",
    "input_features",
    "input_text",
    "merge_rare",
    "numeric_drift",
    "predicted_top1",
    "profile_build",
    "profile_compare",
    "psi",
    "psi_drift",
    "text_drift",
]

FORMAT = 1
P_VALUE_MAX = 0.01  # KS and chi-square: drift when p is below
PSI_MIN = 0.2  # drift when PSI is at least
AUC_MIN = 0.7  # domain classifier: drift when AUC is at least
MIN_SAMPLE = 30  # values (or texts) a side before any test is run
MIN_EXPECTED = 5  # chi-square's expected count per cell
PSI_SMOOTHING = 0.5  # added to every bin's count, so an empty bin does not make PSI infinite
PSI_MAX_BINS = 10
PSI_VALUES_PER_BIN = 20  # fewer bins for small samples: PSI's noise grows with bins / n
NUMERIC_SAMPLE = 2000
TEXT_SAMPLE = 500
TEXT_PREFIX = 300
TOP_CATEGORIES = 200
OTHER = "other"
NO_PREDICTION = "(none)"
EXPLAIN_TERMS = 10
EXPLAIN_MIN_DOCS = 5  # a term explains drift only if that many texts of its side hold it
CV_FOLDS = 5

NUMERIC_FEATURES = (
    "text_length",
    "word_count",
    "title_length",
    "description_length",
    "url_length",
    "path_depth",
)
CATEGORICAL_FEATURES = ("domain", "language", "has_text")

T = TypeVar("T")


@dataclass
class Verdict:
    """The outcome of one check: which method, its statistic, and whether it says drift."""

    feature: str
    kind: str  # numeric, categorical, text, prediction, quality
    method: str  # ks, chi2, psi, domain_classifier, rate, insufficient_data
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- inputs -------------------------------------------------------------------------------------


def input_features(*, url: str, title: str, description: str, text: str) -> dict[str, int]:
    """The numeric features of one input, as the model sees it."""
    path = urlsplit(url).path
    return {
        "text_length": len(text),
        "word_count": len(f"{title} {description} {text}".split()),
        "title_length": len(title),
        "description_length": len(description),
        "url_length": len(url),
        "path_depth": len([part for part in path.split("/") if part]),
    }


def input_text(*, title: str, description: str, text: str) -> str:
    """What the domain classifier reads: title, description and the start of the page text."""
    parts = (title.strip(), description.strip(), " ".join(text[:TEXT_PREFIX].split()))
    return " ".join(part for part in parts if part)


def _sample(items: Sequence[T], k: int, seed: int) -> list[T]:
    """Up to ``k`` items, drawn without replacement with a fixed seed, in their original order."""
    if len(items) <= k:
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), k))
    return [items[i] for i in chosen]


def _counts(values: Iterable[str], top: int | None = None) -> dict[str, int]:
    counter = Counter(values)
    if top is None or len(counter) <= top:
        return dict(counter.most_common())
    kept = dict(counter.most_common(top))
    kept[OTHER] = kept.get(OTHER, 0) + sum(n for value, n in counter.items() if value not in kept)
    return kept


def predicted_top1(model: Any, examples: Sequence[Any], batch: int = 256) -> list[str]:
    """The top-1 predicted tag of each example ("(none)" when the model scores nothing above 0)."""
    labels = list(getattr(model, "labels", []) or [])
    out: list[str] = []
    if not labels:
        return [NO_PREDICTION] * len(examples)
    for start in range(0, len(examples), batch):
        matrix = np.asarray(model.predict_matrix(list(examples[start : start + batch])), dtype=float)
        for row in matrix:
            best = int(np.argmax(row))
            out.append(labels[best] if row[best] > 0 else NO_PREDICTION)
    return out


def profile_build(
    *, rows: Sequence[Mapping[str, Any]], predicted: Sequence[str] | None, seed: int = 0
) -> dict[str, Any]:
    """A profile of inputs. Each row has ``url``, ``title``, ``description``, ``text``,
    ``domain`` and optionally ``language``; ``predicted`` holds top-1 predicted tags (of the
    holdout for a reference, of the window's links for the current side)."""
    sampled = _sample(rows, NUMERIC_SAMPLE, seed)
    numeric: dict[str, list[int]] = {name: [] for name in NUMERIC_FEATURES}
    for row in sampled:
        values = input_features(
            url=row["url"], title=row["title"], description=row["description"], text=row["text"]
        )
        for name in NUMERIC_FEATURES:
            numeric[name].append(values[name])
    categorical: dict[str, dict[str, int]] = {
        "domain": _counts((str(row.get("domain") or "") for row in rows), top=TOP_CATEGORIES),
        "has_text": _counts("yes" if row["text"].strip() else "no" for row in rows),
    }
    languages = [str(row["language"]).lower() for row in rows if row.get("language")]
    if languages:
        categorical["language"] = _counts(languages, top=TOP_CATEGORIES)
    texts = [
        input_text(title=row["title"], description=row["description"], text=row["text"])
        for row in _sample(rows, TEXT_SAMPLE, seed + 1)
    ]
    profile: dict[str, Any] = {
        "format": FORMAT,
        "n": len(rows),
        "numeric": numeric,
        "categorical": categorical,
        "texts": texts,
    }
    if predicted is not None:
        counts = _counts(predicted)
        total = sum(counts.values())
        profile["predicted_tags"] = {
            "n": total,
            "counts": counts,
            "shares": {tag: round(n / total, 6) for tag, n in counts.items()} if total else {},
        }
    return profile


# --- tests --------------------------------------------------------------------------------------


def _insufficient(
    feature: str, kind: str, threshold: float, n_ref: int, n_cur: int, reason: str, **details: Any
) -> Verdict:
    return Verdict(
        feature=feature,
        kind=kind,
        method="insufficient_data",
        statistic=None,
        p_value=None,
        threshold=threshold,
        drifted=False,
        n_reference=n_ref,
        n_current=n_cur,
        details={"reason": reason, **details},
    )


def _finite(values: Iterable[Any]) -> np.ndarray:
    array = np.asarray([float(v) for v in values if v is not None], dtype=float)
    return array[np.isfinite(array)]


def numeric_drift(feature: str, reference: Iterable[Any], current: Iterable[Any]) -> Verdict:
    """Two-sample Kolmogorov–Smirnov test when both sides have 30 values or more."""
    ref, cur = _finite(reference), _finite(current)
    if len(ref) < MIN_SAMPLE or len(cur) < MIN_SAMPLE:
        return _insufficient(
            feature,
            "numeric",
            P_VALUE_MAX,
            len(ref),
            len(cur),
            f"the KS test needs {MIN_SAMPLE} values on each side; there are {len(ref)} in the "
            f"reference and {len(cur)} in the window",
        )
    result = ks_2samp(ref, cur)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    return Verdict(
        feature=feature,
        kind="numeric",
        method="ks",
        statistic=statistic,
        p_value=p_value,
        threshold=P_VALUE_MAX,
        drifted=p_value < P_VALUE_MAX,
        n_reference=len(ref),
        n_current=len(cur),
        details={
            "reason": f"two-sample Kolmogorov–Smirnov: both sides have at least {MIN_SAMPLE} values; "
            f"drift when p < {P_VALUE_MAX}",
            "reference_mean": round(float(ref.mean()), 4),
            "current_mean": round(float(cur.mean()), 4),
            "reference_median": float(np.median(ref)),
            "current_median": float(np.median(cur)),
        },
    )


def _align(reference: Mapping[str, int], current: Mapping[str, int]) -> dict[str, int]:
    """The current counts in the reference's categories: when the reference kept only its top
    categories (and an "other"), a value it did not keep belongs to its "other"."""
    if OTHER not in reference:
        return {k: int(v) for k, v in current.items()}
    aligned: dict[str, int] = {}
    for key, count in current.items():
        target = key if key in reference else OTHER
        aligned[target] = aligned.get(target, 0) + int(count)
    return aligned


def merge_rare(
    reference: Mapping[str, int], current: Mapping[str, int], min_count: int = MIN_EXPECTED
) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """Merge into "other" the categories too rare to test: those whose expected count on the
    smaller side would be below ``min_count``. An "other" still too small then takes in the
    smallest categories until it is not. Returns both sides' counts and the merged categories."""
    keys = sorted(set(reference) | set(current))
    n_ref = sum(int(v) for v in reference.values())
    n_cur = sum(int(v) for v in current.values())
    scale = min(n_ref, n_cur) / (n_ref + n_cur) if n_ref + n_cur else 0.0

    def expected(key: str) -> float:
        return scale * (int(reference.get(key, 0)) + int(current.get(key, 0)))

    merged = [k for k in keys if k != OTHER and expected(k) < min_count]
    other = sum(expected(k) for k in merged) + (expected(OTHER) if OTHER in keys else 0.0)
    kept = sorted((k for k in keys if k != OTHER and k not in merged), key=lambda k: (expected(k), k))
    while 0 < other < min_count and kept:
        key = kept.pop(0)
        merged.append(key)
        other += expected(key)
    ref: dict[str, int] = {}
    cur: dict[str, int] = {}
    for key in keys:
        target = OTHER if key in merged else key
        ref[target] = ref.get(target, 0) + int(reference.get(key, 0))
        cur[target] = cur.get(target, 0) + int(current.get(key, 0))
    return ref, cur, merged


def _shares(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: round(v / total, 4) for k, v in counts.items()} if total else {}


def categorical_drift(
    feature: str, reference: Mapping[str, int], current: Mapping[str, int], kind: str = "categorical"
) -> Verdict:
    """Chi-square test of homogeneity when every expected count is 5 or more (after merging
    rare categories into "other"); else PSI with smoothing when both sides have 30 or more."""
    current = _align(reference, current)
    ref, cur, merged = merge_rare(reference, current)
    n_ref, n_cur = sum(ref.values()), sum(cur.values())
    keys = [k for k in sorted(ref) if ref[k] + cur[k] > 0]
    if n_ref and n_cur and len(keys) >= 2:
        total = n_ref + n_cur
        expected = [n * (ref[k] + cur[k]) / total for n in (n_ref, n_cur) for k in keys]
        if min(expected) >= MIN_EXPECTED:
            table = np.array([[ref[k] for k in keys], [cur[k] for k in keys]], dtype=float)
            statistic, p_value, dof, _ = chi2_contingency(table, correction=False)
            return Verdict(
                feature=feature,
                kind=kind,
                method="chi2",
                statistic=float(statistic),
                p_value=float(p_value),
                threshold=P_VALUE_MAX,
                drifted=float(p_value) < P_VALUE_MAX,
                n_reference=n_ref,
                n_current=n_cur,
                details={
                    "reason": f"chi-square test of homogeneity: every expected count is at least "
                    f"{MIN_EXPECTED} once {len(merged)} rare categories are merged into "
                    f"'{OTHER}'; drift when p < {P_VALUE_MAX}",
                    "dof": int(dof),
                    "merged": merged[:50],
                    "reference_shares": _shares({k: ref[k] for k in keys}),
                    "current_shares": _shares({k: cur[k] for k in keys}),
                },
            )
        why = (
            f"some expected counts stay below {MIN_EXPECTED} after merging rare categories, "
            "so chi-square would not be reliable"
        )
    elif not (n_ref and n_cur):
        why = "one side is empty"
    elif merged:
        why = (
            f"the expected counts of too many categories are below {MIN_EXPECTED}: merged, they "
            "leave one category, and chi-square has nothing to compare"
        )
    else:
        why = "there is only one category, so chi-square has nothing to compare"
    if n_ref >= MIN_SAMPLE and n_cur >= MIN_SAMPLE:
        verdict = psi_drift(feature, reference, current, kind=kind)
        verdict.details["reason"] = f"{why}; {verdict.details['reason']}"
        return verdict
    return _insufficient(
        feature,
        kind,
        P_VALUE_MAX,
        n_ref,
        n_cur,
        f"{why}, and PSI needs {MIN_SAMPLE} values on each side; there are {n_ref} in the "
        f"reference and {n_cur} in the window",
    )


def psi(
    reference: Mapping[str, float], current: Mapping[str, float], smoothing: float = PSI_SMOOTHING
) -> float:
    """Population stability index, sum of (q - p) ln(q / p) over the bins, with ``smoothing``
    added to every bin's count on both sides."""
    keys = sorted(set(reference) | set(current))
    if not keys:
        return 0.0
    n_ref = sum(float(reference.get(k, 0)) for k in keys) + smoothing * len(keys)
    n_cur = sum(float(current.get(k, 0)) for k in keys) + smoothing * len(keys)
    value = 0.0
    for key in keys:
        p = (float(reference.get(key, 0)) + smoothing) / n_ref
        q = (float(current.get(key, 0)) + smoothing) / n_cur
        value += (q - p) * math.log(q / p)
    return value


def _top_bins(
    reference: Mapping[str, int], current: Mapping[str, int], n_bins: int
) -> tuple[dict[str, int], dict[str, int]]:
    """The reference's ``n_bins - 1`` most common categories, and "other". Bins are chosen on
    the reference only: choosing them on the current side too would pick its chance peaks and
    inflate PSI when nothing changed."""
    ranked = sorted((k for k in reference if k != OTHER), key=lambda k: (-int(reference[k]), k))
    kept = set(ranked[: n_bins - 1]) if len(ranked) >= n_bins else set(ranked)
    ref: dict[str, int] = {}
    cur: dict[str, int] = {}
    for side, out in ((reference, ref), (current, cur)):
        for key, count in side.items():
            target = key if key in kept else OTHER
            out[target] = out.get(target, 0) + int(count)
    for key in set(ref) | set(cur):
        ref.setdefault(key, 0)
        cur.setdefault(key, 0)
    return ref, cur


def psi_drift(
    feature: str, reference: Mapping[str, int], current: Mapping[str, int], kind: str = "categorical"
) -> Verdict:
    """PSI over at most ten bins (fewer for small samples, whose PSI is noisier): the most
    common categories and "other". Needs 30 values on each side."""
    current = _align(reference, current)
    n_ref, n_cur = sum(int(v) for v in reference.values()), sum(int(v) for v in current.values())
    if n_ref < MIN_SAMPLE or n_cur < MIN_SAMPLE:
        return _insufficient(
            feature,
            kind,
            PSI_MIN,
            n_ref,
            n_cur,
            f"PSI needs {MIN_SAMPLE} values on each side; there are {n_ref} in the reference and "
            f"{n_cur} in the window",
        )
    n_bins = max(2, min(PSI_MAX_BINS, min(n_ref, n_cur) // PSI_VALUES_PER_BIN))
    ref, cur = _top_bins(reference, current, n_bins)
    value = psi(ref, cur)
    return Verdict(
        feature=feature,
        kind=kind,
        method="psi",
        statistic=value,
        p_value=None,
        threshold=PSI_MIN,
        drifted=value >= PSI_MIN,
        n_reference=n_ref,
        n_current=n_cur,
        details={
            "reason": f"population stability index over {len(ref)} bins (the reference's most common "
            f"categories and '{OTHER}'), smoothing {PSI_SMOOTHING}; drift when PSI ≥ {PSI_MIN}",
            "bins": len(ref),
            "reference_shares": _shares(ref),
            "current_shares": _shares(cur),
        },
    )


def text_drift(feature: str, reference: Sequence[str], current: Sequence[str], *, seed: int = 0) -> Verdict:
    """A domain classifier: how well TF-IDF and logistic regression tell the current texts from
    the reference ones, as cross-validated ROC AUC (0.5: not at all; 1: perfectly)."""
    ref = _sample(list(reference), TEXT_SAMPLE, seed)
    cur = _sample(list(current), TEXT_SAMPLE, seed)
    if len(ref) < MIN_SAMPLE or len(cur) < MIN_SAMPLE:
        return _insufficient(
            feature,
            "text",
            AUC_MIN,
            len(ref),
            len(cur),
            f"the domain classifier needs {MIN_SAMPLE} texts on each side; there are {len(ref)} in "
            f"the reference and {len(cur)} in the window",
        )
    texts = ref + cur
    labels = np.array([0] * len(ref) + [1] * len(cur))

    def pipeline() -> Any:
        return make_pipeline(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, max_features=50_000),
            LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced"),
        )

    reason = (
        f"domain classifier (TF-IDF + logistic regression, {CV_FOLDS}-fold cross-validated ROC AUC "
        f"of telling the window's texts from the reference's); drift when AUC ≥ {AUC_MIN}"
    )
    try:
        folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
        scores = cross_val_score(pipeline(), texts, labels, cv=folds, scoring="roc_auc", error_score="raise")
    except ValueError:  # no words at all on either side (empty vocabulary): nothing tells them apart
        return Verdict(
            feature=feature,
            kind="text",
            method="domain_classifier",
            statistic=0.5,
            p_value=None,
            threshold=AUC_MIN,
            drifted=False,
            n_reference=len(ref),
            n_current=len(cur),
            details={
                "reason": f"{reason}; the texts hold no words to learn from, so nothing tells them apart"
            },
        )
    auc = float(np.mean(scores))
    details: dict[str, Any] = {"reason": reason, "fold_auc": [round(float(s), 4) for s in scores]}
    if auc >= AUC_MIN:
        details.update(_telling_terms(pipeline().fit(texts, labels), texts, labels))
    return Verdict(
        feature=feature,
        kind="text",
        method="domain_classifier",
        statistic=auc,
        p_value=None,
        threshold=AUC_MIN,
        drifted=auc >= AUC_MIN,
        n_reference=len(ref),
        n_current=len(cur),
        details=details,
    )


def _telling_terms(model: Any, texts: list[str], labels: np.ndarray) -> dict[str, list[str]]:
    """The terms that most tell the sides apart. Only terms that several texts of their side
    hold are named, so that no single link's words show up in a report."""
    vectorizer, classifier = model.steps[0][1], model.steps[1][1]
    matrix = vectorizer.transform(texts) > 0
    docs_current = np.asarray(matrix[labels == 1].sum(axis=0)).ravel()
    docs_reference = np.asarray(matrix[labels == 0].sum(axis=0)).ravel()
    terms = vectorizer.get_feature_names_out()
    weights = classifier.coef_[0]
    order = np.argsort(weights)
    current = [terms[i] for i in order[::-1] if weights[i] > 0 and docs_current[i] >= EXPLAIN_MIN_DOCS]
    reference = [terms[i] for i in order if weights[i] < 0 and docs_reference[i] >= EXPLAIN_MIN_DOCS]
    return {"current_terms": current[:EXPLAIN_TERMS], "reference_terms": reference[:EXPLAIN_TERMS]}


def profile_compare(
    reference: Mapping[str, Any], current: Mapping[str, Any], *, seed: int = 0
) -> list[Verdict]:
    """Every feature both profiles describe, each with the test its data allows."""
    verdicts: list[Verdict] = []
    ref_numeric, cur_numeric = reference.get("numeric") or {}, current.get("numeric") or {}
    for name in NUMERIC_FEATURES:
        if name in ref_numeric and name in cur_numeric:
            verdicts.append(numeric_drift(name, ref_numeric[name], cur_numeric[name]))
    ref_cat, cur_cat = reference.get("categorical") or {}, current.get("categorical") or {}
    for name in CATEGORICAL_FEATURES:
        if name in ref_cat:  # a feature the reference does not know (language) is skipped
            verdicts.append(categorical_drift(name, ref_cat[name], cur_cat.get(name) or {}))
    if "texts" in reference and "texts" in current:
        verdicts.append(text_drift("text", reference["texts"], current["texts"], seed=seed))
    ref_pred, cur_pred = reference.get("predicted_tags"), current.get("predicted_tags")
    if ref_pred is not None and cur_pred is not None:
        verdicts.append(
            psi_drift(
                "predicted_tags", ref_pred.get("counts") or {}, cur_pred.get("counts") or {}, "prediction"
            )
        )
    return verdicts
