"""`barenet grid`: train every combination of a few config values in parallel and compare them."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError
from ..io.files import check_output_dir
from ..runs import config as cfg
from .train import OVERRIDES, add_config_source, collect_overrides, parse_set


def register(sub) -> None:
    p = sub.add_parser("grid", help="train a grid of configurations in parallel and tabulate the results",
                       description="Example: barenet grid --recipe mnist --param optimizer.lr=0.3,0.1,0.03 "
                                   "--param train.batch_size=32,128 --set train.epochs=3")
    add_config_source(p)
    p.add_argument("--param", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a config key and the values to try (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed override (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: one per core)")
    p.add_argument("--out", help="grid folder (default runs/grid-<time>)")
    p.add_argument("--force", action="store_true", help="allow a non-empty --out folder")
    # grid takes fixed values through --set only; collect_overrides still looks for train's options
    p.set_defaults(func=run, **dict.fromkeys(OVERRIDES))


def parse_param(item: str) -> tuple[str, list]:
    key, sep, text = item.partition("=")
    if not sep or not key or not text:
        raise ConfigError(f"--param takes KEY=V1,V2,..., e.g. --param optimizer.lr=0.1,0.01; got {item!r}")
    values = [parse_set(f"{key}={part}")[1] for part in split_values(text)]
    return key.strip(), values


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets, so layer lists like [784,64,10],[784,128,10] stay whole."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def run(args) -> int:
    from ..apps.grid import format_table, run_grid

    params = dict(parse_param(item) for item in args.param)
    base = cfg.resolve(recipe=args.recipe, path=args.config, overrides=collect_overrides(args))
    out = Path(args.out) if args.out else Path("runs") / f"grid-{datetime.now():%Y%m%d-%H%M%S}"
    check_output_dir(out, args.force)

    def progress(row, done, total):
        score = f"val {row['val_accuracy']:.2%}, test {row['test_accuracy']:.2%}"
        accuracy = {"ok": score, "collapsed": f"{score} (collapsed)"}.get(row["status"], row["status"])
        settings = ", ".join(f"{k}={row[k]}" for k in params)
        print(f"[{done}/{total}] {settings}: {accuracy}", file=sys.stderr, flush=True)

    rows = run_grid(base, params, out, workers=args.workers, progress=progress)
    print(format_table(rows, list(params)))
    print(f"results: {out}/results.csv, results.md, grid.png")
    return 0
