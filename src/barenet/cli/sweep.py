"""`barenet sweep`: hyperparameter search on Optuna (the `sweep` extra): TPE, pruning, many workers and machines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.files import make_dir
from ..runs import config as cfg
from .arguments import positive_int, positive_seconds
from .train import OVERRIDES, add_config_source, collect_overrides

PARAM_HELP = """parameters (--param KEY=SPEC, repeatable; every value is checked like --set):
  optimizer.lr=log:1e-3..1        a float, log-uniform between the ends
  optimizer.momentum=0.8..0.99    a float, uniform
  train.epochs=2..10              an integer (both ends whole numbers, on a key that is no float)
  train.batch_size=log:16..512    an integer, log-uniform;  int:A..B / float:A..B force the kind
  train.batch_size=32,64,128      one of the choices
  model.layers=784,128,10/784,256,128,10   choices of a list: '/' between them

one machine: the study lives in runs/sweep-STUDY/study.db; a killed sweep continues when the same
command runs again. Many machines: the same command with --storage postgresql://USER@HOST:PORT/DB
(the same --study) on each; run 'barenet sweep init --storage URL' once first, or let the workers
create the schema (they take a lock). Every trial is a run in runs/sweep-STUDY/trials/NNNN, chosen
on validation accuracy (data.validation; 10000 images are held out when the config holds none).

examples:
  barenet sweep --recipe mnist --param optimizer.lr=log:1e-3..1 --param train.batch_size=32,64,128 --trials 40
  barenet sweep show mnist"""


def register(sub) -> None:
    p = sub.add_parser("sweep", help="search hyperparameters with Optuna (TPE, pruning; SQLite or PostgreSQL)",
                       description="Search a configuration's hyperparameters with Optuna.", epilog=PARAM_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_source(p)
    p.add_argument("--param", action="append", default=[], metavar="KEY=SPEC", help="a key to search (see below)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed override (repeatable)")
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should reach (default 20)")
    p.add_argument("--workers", type=int, default=1, help="processes on this machine, sharing the cores (default 1)")
    p.add_argument("--storage", help="sqlite:///FILE or postgresql://USER@HOST:PORT/DB "
                                     "(default sqlite in the sweep folder)")
    p.add_argument("--study", help="the study's name (default: the config's name)")
    p.add_argument("--out", help="this machine's sweep folder (default runs/sweep-STUDY)")
    p.add_argument("--timeout", type=positive_seconds, metavar="S", help="start no trial after S seconds")
    p.add_argument("--prune", default="median", choices=["median", "hyperband", "none"],
                   help="stop bad trials early on their validation accuracy (default median)")
    p.add_argument("--prune-after", type=int, default=5, metavar="N",
                   help="trials that finish before the median pruner judges others (default 5)")
    p.add_argument("--sampler", default="tpe", choices=["tpe", "random", "grid"], help="default tpe")
    p.add_argument("--sampler-seed", type=int, metavar="N",
                   help="the sampler's seed (worker i uses N + i); the training seed is --set train.seed=N")
    p.add_argument("--heartbeat", type=int, default=10, metavar="S",
                   help="a worker's liveness signal; a trial silent for 3 beats is retried elsewhere (default 10)")
    actions = p.add_subparsers(dest="action", metavar="[show|init]", parser_class=type(p))
    show = actions.add_parser("show", help="print the best trials of a study (and write its results with --save)")
    show.add_argument("study")
    show.add_argument("--storage", help="the study's storage (default runs/sweep-STUDY/study.db)")
    show.add_argument("--top", type=positive_int, default=10, help="rows to print (default 10)")
    show.add_argument("--save", metavar="DIR", help="write results, best.toml and plots into DIR")
    init = actions.add_parser("init", help="create the storage's tables before workers start")
    init.add_argument("--storage", required=True, help="postgresql://USER@HOST:PORT/DB or sqlite:///FILE")
    p.set_defaults(func=run, **dict.fromkeys(OVERRIDES))


def run(args) -> int:
    if args.action == "show":
        return show(args)
    if args.action == "init":
        from ..apps.sweep.storage import init_storage

        print(f"sweep storage ready: {init_storage(args.storage)}")
        return 0
    return sweep(args)


def sweep(args) -> int:
    from ..apps.sweep import results
    from ..apps.sweep.params import parse_params
    from ..apps.sweep.plan import make_plan
    from ..apps.sweep.workers import blas_threads, check_workers, run_sweep

    check_workers(args.workers)  # before the data is read, and before the thread share divides by it
    base = cfg.resolve(recipe=args.recipe, path=args.config, overrides=collect_overrides(args))
    plan = make_plan(base, parse_params(args.param, base), args.trials, study=args.study, storage=args.storage,
                     out=args.out, sampler=args.sampler, pruner=args.prune, prune_after=args.prune_after,
                     seed=args.sampler_seed, timeout_s=args.timeout, heartbeat_s=args.heartbeat)
    keys = [p.key for p in plan.params]
    print(f"sweep {plan.study}: {plan.trials} trials over {', '.join(keys)}; {args.workers} worker(s) x "
          f"{blas_threads(args.workers)} BLAS thread(s); {plan.sampler} sampler, {plan.pruner} pruning; "
          f"study in {plan.storage}", flush=True)
    for note in plan.notes:
        print(f"note: {note}", flush=True)
    outcome = run_sweep(plan, args.workers, sys.stderr)
    written = results.write_results(outcome["study"], keys, plan.out)
    rows = results.trial_rows(outcome["study"], keys)
    print(results.format_table(rows, keys))
    print(results.tally(rows))
    rate = 3600 * outcome["finished"] / outcome["seconds"] if outcome["seconds"] > 0 else 0.0
    print(f"{outcome['finished']} trials finished by this command in {outcome['seconds']:.0f}s "
          f"({rate:.0f} trials/hour with {args.workers} worker(s))")
    print(f"results: {plan.out}/{{{','.join(written)}}}")
    return 0


def show(args) -> int:
    from ..apps.sweep import results
    from ..apps.sweep.storage import default_url, load_study

    study = load_study(args.storage or default_url(Path("runs") / f"sweep-{args.study}"), args.study)
    keys = [spec.partition("=")[0] for spec in study.user_attrs.get("params", [])]
    rows = results.trial_rows(study, keys)
    print(results.format_table(rows, keys, args.top))
    print(results.tally(rows))
    if args.save:
        written = results.write_results(study, keys, make_dir(Path(args.save)))
        print(f"results: {args.save}/{{{','.join(written)}}}")
    return 0
