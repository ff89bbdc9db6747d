"""A ``--dataset`` folder (edges.csv + interests.json) from one Twitch graph
of the MUSAE mirror: the mutual-follower edges, and each user's MUSAE
feature ids (games played and liked, location, streaming habits) as that
user's interests. No node features: the folder is what a user with a
friendship list and an interest list would bring.

    python benchmarks/make_twitch_folder.py --root ../shared/datasets --lang FR --out runs/twitch-fr

docs/PERFORMANCE.md times the default ``graphmeta compare --dataset
runs/twitch-fr`` on it (FR: 6,549 users, 112,666 edge rows, 2,275 interests).
"""
import argparse
import csv
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="the mirror holding twitch/<LANG>/musae_<LANG>_*")
    ap.add_argument("--lang", default="FR", choices=("ENGB", "ES", "FR", "PTBR", "RU", "DE"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    src = Path(args.root) / "twitch" / args.lang
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (src / f"musae_{args.lang}_edges.csv").open() as f, \
            (out / "edges.csv").open("w", newline="") as g:
        rows = csv.reader(f)
        next(rows)                                  # from,to
        w = csv.writer(g)
        w.writerow(["source", "target"])
        n = sum(1 for row in rows if w.writerow(row))
    feats = json.loads((src / f"musae_{args.lang}_features.json").read_text())
    interests = {u: [f"f{i}" for i in sorted(set(ids))] for u, ids in feats.items()}
    (out / "interests.json").write_text(json.dumps(interests))
    print(f"{out}: {n} edges, {len(interests)} users, "
          f"{len({i for v in interests.values() for i in v})} interests")


if __name__ == "__main__":
    main()
