"""`barenet runs` lists past runs; `barenet runs compare A B` draws both runs' curves and prints their
config differences."""

from __future__ import annotations

import os
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser("runs", help="list past runs, or compare two",
                            description="List the run folders under --dir (default: runs), a grid's runs and a "
                                        "sweep's trials included: when each started, its recipe, dataset, layers, "
                                        "epochs, test accuracy, training time and the problems the training doctor "
                                        "found (see them with 'barenet doctor RUN').")
    parser.add_argument("--dir", default="runs", help="the folder holding run folders (default: runs)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.add_parser("list", help="list the runs (the default)")
    compare = actions.add_parser("compare", help="both runs' curves on one figure, and their config differences",
                                 description="Draw two runs' loss and accuracy per epoch on one figure and print "
                                             "the config keys whose values differ.")
    compare.add_argument("a", help="a run folder, or part of a folder name under --dir")
    compare.add_argument("b", help="the other run")
    compare.add_argument("--out", help="PNG file (default: compare-A-vs-B.png in the folder holding both runs; "
                                       "compare-A-vs-B-2.png and so on when that exists)")
    compare.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.set_defaults(func=run, action="list")


def run(args) -> int:
    return run_compare(args) if args.action == "compare" else run_list(args)


def run_list(args) -> int:
    from ..runs.history import format_runs, list_runs

    rows = list_runs(args.dir)
    if not rows:
        print(f"no runs under {args.dir}/ yet: 'barenet train' writes one")
        return 0
    print(format_runs(rows, args.dir))
    return 0


def run_compare(args) -> int:
    from ..errors import ConfigError
    from ..io.files import check_output_file, fresh_file
    from ..runs.history import config_diff, find_run, plot_compare, read_run

    runs = []
    for text in (args.a, args.b):
        run = read_run(find_run(args.dir, text))
        if run is None:
            raise ConfigError(f"{text}: its config.toml cannot be read: is it a run folder?")
        runs.append(run)
    a, b = runs
    differences = config_diff(a["config"], b["config"])
    width = max([len("key"), *(len(key) for key, _, _ in differences)])
    print(f"{'key':<{width}}  {a['folder'].name}  |  {b['folder'].name}")
    for key, left, right in differences:
        print(f"{key:<{width}}  {left!r}  |  {right!r}")
    if not differences:
        print("(the two configs are the same)")
    for run in runs:
        summary = run["summary"] or {}
        accuracy = (f"{summary['test_accuracy']:.2%}" if isinstance(summary.get("test_accuracy"), (int, float))
                    else summary.get("status", "unfinished"))
        print(f"{run['folder'].name}: test accuracy {accuracy}, {len(run['metrics'])} epochs")
    if args.out:
        out = check_output_file(args.out, args.force)
    else:  # beside the runs, never replacing an earlier comparison
        beside = Path(os.path.commonpath([a["folder"].resolve(), b["folder"].resolve()]))
        beside = beside.parent if beside in (a["folder"].resolve(), b["folder"].resolve()) else beside
        out = fresh_file(beside / f"compare-{a['folder'].name}-vs-{b['folder'].name}.png")
    plot_compare(runs, out)
    print(f"curves: {out}")
    return 0
