"""A Twitch-sized ``--dataset`` folder (edges.csv + interests.json) built from
public MUSAE data: the Facebook page-page graph, restricted to the first
``--nodes`` pages reached breadth-first from page 0, with each page's feature
words (from its description) as its interests, keeping words used by at
least ``--min-count`` of those pages.

    python benchmarks/make_musae_folder.py --root ../shared/datasets --out runs/fb10k

A folder in the format a user would bring (string node ids, a header row),
used by docs/SCALING.md to time the default ``graphmeta compare`` on a graph
of ~10k users and a few thousand interests, and never used for tuning.
"""
import argparse
import collections
import csv
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="mirror holding facebook_page_page/raw_csv")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--min-count", type=int, default=2)
    args = ap.parse_args()
    src = Path(args.root) / "facebook_page_page" / "raw_csv"
    adj = collections.defaultdict(set)
    with (src / "facebook_edges.csv").open() as f:
        rows = csv.reader(f)
        next(rows)
        for a, b in rows:
            if a != b:
                adj[a].add(b)
                adj[b].add(a)
    keep, queue = {"0"}, collections.deque(["0"])
    while queue and len(keep) < args.nodes:
        for v in sorted(adj[queue.popleft()], key=int):
            if v not in keep and len(keep) < args.nodes:
                keep.add(v)
                queue.append(v)
    words = json.loads((src / "facebook_features.json").read_text())
    count = collections.Counter(w for u in keep for w in words.get(u, []))
    interests = {f"p{u}": [f"w{w}" for w in words.get(u, []) if count[w] >= args.min_count]
                 for u in sorted(keep, key=int)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "edges.csv").open("w") as f:
        f.write("source,target\n")
        for a in sorted(keep, key=int):
            for b in sorted(adj[a] & keep, key=int):
                if int(a) < int(b):
                    f.write(f"p{a},p{b}\n")
    (out / "interests.json").write_text(json.dumps(interests))
    catalogue = {w for v in interests.values() for w in v}
    print(f"{out}: {len(keep)} nodes, {sum(len(adj[u] & keep) for u in keep) // 2} edges, "
          f"{len(catalogue)} interests")


if __name__ == "__main__":
    main()
