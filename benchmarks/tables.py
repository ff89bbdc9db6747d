"""The Markdown of docs/RESULTS.md's tables and the README's headline, read
from the committed result files under ``docs/results/<table>/``.

    python benchmarks/tables.py headline docs/results/deezer-hu docs/results/twitch-engb ...
    python benchmarks/tables.py section docs/results/deezer-hu

A table folder holds a `graphmeta compare` run's ``results.json``,
``tuning.json`` and ``per_task.csv``, and, for user-interest tables (it is
required there), ``evaluation-popularity.json``: ``graphmeta evaluate RUN --negatives
popularity``, the same trained models scored with the evaluation tasks'
support negatives drawn by popularity (the protocol's other setting).

``headline`` prints one row per table and protocol setting: the
meta-learner meta-val chose minus the baseline meta-val chose, in each
metric, with the interval over users and training seeds that
``results.json``'s ``headline`` holds, and p-values Holm-corrected over
every cell of the headline (the README's claims are one family). A side
wins a cell when that corrected p is below 0.05; otherwise the cell is a
tie. ``section`` prints a table's methods, its tuned settings with their
edge-of-range flags, and its paired differences. This script only reads
files; every number comes from graphmeta's own statistics.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from graphmeta.eval import holm
from graphmeta.results import LABELS

ALPHA = 0.05
HEADLINE_METRICS = {"user-interest": ("auc", "ndcg@10"), "few-shot": ("accuracy",)}


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (a table folder holds results.json, "
                         f"tuning.json, per_task.csv and, for user-interest tables, "
                         f"evaluation-popularity.json)")
    return json.loads(path.read_text())


def _with_headline(path: Path) -> dict[str, Any]:
    res = _load(path)
    if "headline" not in res:
        raise SystemExit(f"{path}: no 'headline' (the run has no meta-learner or no "
                         f"baseline, or was made before graphmeta 0.4; `graphmeta evaluate` "
                         f"on the run writes one)")
    return res


def protocols(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """The table's result files, one per setting of the evaluation negatives."""
    res = _with_headline(folder / "results.json")
    if res["task_kind"] == "few-shot":
        return [("-", res)]
    # required: the headline reports both settings of the protocol, and a
    # missing file would silently drop rows and change the Holm family
    other = folder / "evaluation-popularity.json"
    if not other.is_file():
        raise SystemExit(f"{other}: no such file (a user-interest table folder holds the "
                         f"run's `graphmeta evaluate RUN --negatives popularity` as "
                         f"evaluation-popularity.json)")
    ev = _with_headline(other)
    return [(res["negatives"]["evaluation"], res), (ev["negatives"]["evaluation"], ev)]


def _fmt(x: float | None, digits: int = 4, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "-"
    if p < 1e-4:
        return "<1e-4"
    for digits in range(2, 7):   # never print a p on the other side of ALPHA than it is
        s = f"{p:.{digits}g}"
        if (float(s) < ALPHA) == (p < ALPHA):
            return s
    return s


def headline(folders: list[Path]) -> str:
    """The README's headline table (see the module docstring)."""
    rows, cells = [], []
    for folder in folders:
        for negatives, res in protocols(folder):
            h = res["headline"]
            for k in HEADLINE_METRICS[res["task_kind"]]:
                cells.append(h["metrics"][k])
            rows.append((res, negatives, h))
    # results.json rounds p to 6 decimals; a p that small is below every Holm
    # threshold of this table and prints "<1e-4" either way
    corrected = iter(holm([c["p"] if c["p"] is not None else math.nan for c in cells]))
    lines = ["| dataset | eval. negatives | meta-learner (meta-val's) | baseline (meta-val's) "
             "| Δ ROC-AUC or accuracy | p | Δ nDCG@10 | p | who wins |",
             "|---|---|---|---|---|---|---|---|---|"]
    for res, negatives, h in rows:
        out, winners = [], []
        for k in HEADLINE_METRICS[res["task_kind"]]:
            c, p = h["metrics"][k], next(corrected)
            out += [f"{_fmt(c['diff'], sign=True)} ± {_fmt(c['ci95'])}", _p(p)]
            significant = math.isfinite(p) and p < ALPHA
            winners.append((h["meta-learner"] if c["diff"] > 0 else h["baseline"])
                           if significant else "tie")
        if len(out) == 2:
            out += ["", ""]
        name = res["dataset"] + (f" ({res['n_way']}-way {res['k_shot']}-shot)"
                                 if res["task_kind"] == "few-shot" else "")
        metrics = HEADLINE_METRICS[res["task_kind"]]
        verdict = (winners[0] if len(set(winners)) == 1 else
                   ", ".join(f"{w} ({LABELS[k]})" for w, k in zip(winners, metrics)))
        lines.append(f"| {name} | {negatives} | {h['meta-learner']} | {h['baseline']} | "
                     + " | ".join(out) + f" | {verdict} |")
    return "\n".join(lines)


def _settings(s: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v:.4g}`" if isinstance(v, float) else f"`{k}={v}`"
                     for k, v in s.items()) or "its defaults"


def section(folder: Path) -> str:
    """One table's Markdown: methods, tuned settings, the other protocol."""
    (negatives, res), *rest = protocols(folder)
    few = res["task_kind"] == "few-shot"
    cols = ["accuracy"] if few else ["auc", "ndcg@10", "recall@10", "mrr"]
    metric = res["metric"]
    chosen = res["chosen"]
    lines = [f"| method | {' | '.join(LABELS[c] for c in cols)} | seed sd | meta-val "
             f"{LABELS[metric]} | Δ {LABELS[metric]} vs meta-val's best other baseline | "
             f"p (Holm) | seconds |", "|---" * (len(cols) + 6) + "|"]
    for m, r in res["methods"].items():
        star = " (chosen)" if m in (chosen["meta-learner"], chosen["baseline"]) else ""
        p = res["paired"].get(m)
        delta = (f"{_fmt(p['diff'], sign=True)} ± {_fmt(p['ci95'])} (vs {p['baseline']})"
                 if p else "-")
        sd = r["seed_sd"].get(metric)
        lines.append(f"| {m}{star} | " + " | ".join(
            f"{_fmt(r[c]['mean'], 3)} ± {_fmt(r[c]['ci95'], 3)}" for c in cols)
            + f" | {_fmt(sd, 4) if len(r['seeds']) > 1 else '-'} | {_fmt(r.get('val'))} | "
            f"{delta} | {_p(p.get('p_holm')) if p else '-'} | {r['seconds']:.0f} |")
    lines += ["", "| method | tuned settings (meta-val) | configurations | searched | "
              "at the edge of its range |", "|---|---|---|---|---|"]
    for m, t in res.get("tuning", {}).items():
        edges = ", ".join(f"`{k}` ({side})" for k, side in t.get("edges", {}).items()) or "-"
        lines.append(f"| {m} | {_settings(t['settings'])} | {t['configurations']} | "
                     f"{t['searched']} | {edges} |")
    lines += ["", _headline_rows(res["headline"], "" if few else f" (eval. negatives {negatives})")]
    for neg, ev in rest:
        lines += ["", f"The same trained models with the evaluation tasks' support negatives "
                  f"drawn by {neg} (`graphmeta evaluate RUN --negatives {neg}`; meta-val, "
                  f"which chose them, unchanged):", "",
                  "| method | ROC-AUC | nDCG@10 |", "|---|---|---|"]
        for m, r in ev["methods"].items():
            lines.append(f"| {m} | {_fmt(r['auc']['mean'], 3)} ± {_fmt(r['auc']['ci95'], 3)} | "
                         f"{_fmt(r['ndcg@10']['mean'], 3)} ± "
                         f"{_fmt(r['ndcg@10']['ci95'], 3)} |")
        lines += ["", _headline_rows(ev["headline"], f" (eval. negatives {neg})")]
    for w in res.get("warnings", []):
        lines.append(f"\nWarning recorded: {w}")
    return "\n".join(lines)


def _headline_rows(h: dict[str, Any], what: str) -> str:
    """A table's headline: the chosen pair's difference in every metric."""
    first = next(iter(h["metrics"].values()))
    over = (f"tasks ({first['n']}) and seeds ({first['seeds'][0]} and {first['seeds'][1]})"
            if first.get("interval") == "users+seeds" else f"tasks ({first['n']})")
    rows = [f"| {h['meta-learner']} minus {h['baseline']}{what} | Δ, 95% interval over "
            f"{over} | p (Holm over the metrics) |", "|---|---|---|"]
    for k, c in h["metrics"].items():
        rows.append(f"| {LABELS[k]} | {_fmt(c['diff'], sign=True)} ± {_fmt(c['ci95'])} | "
                    f"{_p(c['p_holm'])} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["headline", "section"])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.what == "headline":
        print(headline(args.folders))
    else:
        print("\n\n".join(section(f) for f in args.folders))
    return 0


if __name__ == "__main__":
    sys.exit(main())
