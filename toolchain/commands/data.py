"""`tinyml data`: fetch a data set release (`fetch`), or describe a data folder (`info`)."""

from __future__ import annotations

import argparse
import json
from collections import Counter


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="fetch or describe keyword-spotting data")
    sub = p.add_subparsers(dest="data_verb", metavar="ACTION", required=True)
    f = sub.add_parser("fetch", help="download and checksum a data set release")
    f.add_argument("name", help="data set name (datasets/<name>/manifest.toml)")
    f.add_argument("--dest", help="where to unpack (default ~/.cache/tinyml/datasets)")
    i = sub.add_parser("info", help="clips per label and speaker split of a data folder")
    i.add_argument("--data", help="Speech Commands folder (default $TINYML_DATA)")
    i.add_argument("--keywords", help="comma-separated keywords (default the 10 MLPerf words)")
    i.add_argument("--test", type=float, default=0.2, help="test fraction of speakers")
    i.add_argument("--val", type=float, default=0.08, help="validation fraction of speakers")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import data, paths

    if args.data_verb == "fetch":
        folder = data.fetch(args.name, args.dest)
        print(f"{args.name}: ready at {folder}")
        return 0
    root = paths.speech_commands_dir(args.data)
    keywords = args.keywords.split(",") if args.keywords else data.DEFAULT_KEYWORDS
    clips = data.scan(root, keywords)
    labels = data.label_names(keywords)
    fractions = {"test": args.test, "val": args.val, "train": 1.0 - args.test - args.val}
    parts = data.split_by_speaker(clips, fractions)
    out = {"data": str(root), "clips": len(clips), "labels": labels,
           "speakers": len({c.speaker for c in clips if not c.speaker.startswith("silence-")}),
           "splits": {n: {"clips": len(p), "per_label": [Counter(c.label for c in p)[i]
                                                         for i in range(len(labels))]}
                      for n, p in parts.items()}}
    print(json.dumps(out, indent=1))
    return 0
