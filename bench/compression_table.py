"""The compression table (float, factorized, pruned 50% structured, QAT int8, distilled) with
accuracy, parameters, MACs, flash and arena bytes, as JSON and markdown.

    .venv/bin/python bench/compression_table.py [--data DIR] [--recipe cnn_compressed]
        [--build-dir build] [--out build/reports]

Same as `tinyml compress --table`. Stages are content-hashed: a re-run with nothing changed
only reprints the table.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    from toolchain import paths
    from toolchain.compress.table import write_table

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="Speech Commands folder (default $TINYML_DATA)")
    p.add_argument("--recipe", default="cnn_compressed")
    p.add_argument("--build-dir", default="build")
    p.add_argument("--out", default=None)
    p.add_argument("--no-device", action="store_true", help="skip the qemu-m4 measurements")
    args = p.parse_args(argv)
    json_path, md_path = write_table(paths.speech_commands_dir(args.data), args.recipe,
                                     args.build_dir, args.out, device=not args.no_device)
    print(md_path.read_text())
    print(f"written: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
