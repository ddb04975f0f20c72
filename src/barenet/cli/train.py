"""`barenet train`: one command from nothing to a trained, reported, saved model."""

from __future__ import annotations

import json
import sys

from ..data.augment import KINDS as AUGMENTATIONS
from ..errors import ConfigError
from ..runs import config as cfg

# option -> (config key, parser); the optimizer/schedule names come first so their options apply after
OVERRIDES = {
    "dataset": ("data.dataset", str), "data_dir": ("data.data_dir", str),
    "optimizer": ("optimizer.name", str), "schedule": ("schedule.name", str),
    "layers": ("model.layers", "layers"), "activation": ("model.activation", str),
    "output": ("model.output", str), "init": ("model.init", str), "loss": ("loss.name", str),
    "lr": ("optimizer.lr", float), "momentum": ("optimizer.momentum", float),
    "weight_decay": ("optimizer.weight_decay", float), "epochs": ("train.epochs", "positive"),
    "batch_size": ("train.batch_size", "batch"), "dropout": ("model.dropout", float),
    "validation": ("data.validation", "natural"), "subset": ("data.subset", "positive"),
    "seed": ("train.seed", "natural"), "augment": ("augment.transforms", "names"),
    "test_each_epoch": ("train.test_each_epoch", "flag"), "device": ("train.device", str),
}
EXPECTED = {"layers": "comma-separated integers like 784,128,10", "batch": "an integer or 'full'",
            "positive": "a positive integer", "natural": "a non-negative integer", float: "a number",
            "names": "comma-separated names like affine,elastic (or 'none')"}


def add_config_source(parser):
    """--recipe NAME | --config FILE (exclusive); returns the group so a command can add to it."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--recipe", help="a recipe shipped with barenet (default: mnist; see 'barenet recipes list')")
    source.add_argument("--config", help="a TOML config file (e.g. a run folder's config.toml)")
    return source


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network (default: the 'mnist' recipe)",
                       description="Train a network from a recipe or a TOML config, with overrides.")
    source = add_config_source(p)
    source.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    p.add_argument("--dataset", help="mnist or fashion-mnist")
    p.add_argument("--data-dir", help="folder with the dataset files (default: $BARENET_DATA_DIR, the cache)")
    p.add_argument("--layers", help="sizes, e.g. 784,256,10")
    p.add_argument("--activation", help="hidden activation: relu, leaky_relu, sigmoid, tanh")
    p.add_argument("--output", help="output activation: softmax, sigmoid, linear")
    p.add_argument("--init", help="he_normal, he_uniform, glorot_uniform, glorot_normal, lecun_normal, ...")
    p.add_argument("--loss", help="softmax_cross_entropy, categorical_cross_entropy, mse, binary_cross_entropy, "
                                  "sigmoid_binary_cross_entropy")
    p.add_argument("--optimizer", help="sgd, adam, adamw, rmsprop")
    p.add_argument("--lr", help="learning rate")
    p.add_argument("--momentum", help="SGD/RMSprop momentum")
    p.add_argument("--weight-decay", help="L2 weight decay (decoupled for adamw)")
    p.add_argument("--schedule", help="constant, step, exponential, cosine, plateau")
    p.add_argument("--epochs")
    p.add_argument("--batch-size", help="an integer (1 = per-sample SGD) or 'full'")
    p.add_argument("--dropout", help="drop probability after each hidden layer")
    p.add_argument("--validation", help="hold out this many training images (the last ones) for validation")
    p.add_argument("--subset", help="train on a class-balanced subset of this many images")
    p.add_argument("--seed")
    p.add_argument("--augment", metavar="TRANSFORMS",
                   help=f"distort every training batch afresh: {', '.join(AUGMENTATIONS)}, comma-separated "
                        "(e.g. affine,elastic); their settings with --set augment.rotation=15, augment.alpha=34, ...")
    p.add_argument("--test-each-epoch", action="store_const", const="yes",
                   help="also show test metrics every epoch (only to look at: nothing is chosen on them)")
    p.add_argument("--device", help="cpu (default), cuda or cuda:N: train on a GPU through CuPy "
                                    '(pip install "barenet[gpu]")')
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set optimizer.nesterov=true (repeatable)")
    p.add_argument("--out", help="run folder (default runs/<time>-<name>)")
    p.add_argument("--force", action="store_true", help="allow writing into a non-empty --out folder")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="print nothing")
    output.add_argument("--json", action="store_true", help="print only the summary, as JSON on stdout")
    p.set_defaults(func=run)


def parse_value(option: str, text: str, kind):
    """Turn an option's text into the config value, or a one-line error naming the option."""
    try:
        if kind == "layers":
            return [int(part) for part in text.split(",")]
        if kind == "names":
            return [] if text.strip().lower() == "none" else [part.strip() for part in text.split(",") if part.strip()]
        if kind == "flag":
            return bool(text)
        if kind == "batch":
            return "full" if text == "full" else int(text)
        if kind in ("positive", "natural"):
            value = int(text)
            if value < (1 if kind == "positive" else 0):
                raise ValueError(text)
            return value
        return kind(text)
    except ValueError:
        raise ConfigError(f"--{option.replace('_', '-')} must be {EXPECTED.get(kind, 'a value')}, "
                          f"got {text!r}") from None


def parse_set(item: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as TOML (numbers, booleans, lists, "strings"; bare words as strings)."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set takes KEY=VALUE, e.g. --set optimizer.nesterov=true; got {item!r}")
    try:
        value = cfg.parse_toml(f"v = {text}", "--set")["v"]
    except ConfigError:
        value = text
    return key.strip(), value


def collect_overrides(args) -> dict:
    overrides = {}
    for option, (key, kind) in OVERRIDES.items():
        text = getattr(args, option)
        if text is not None:
            overrides[key] = parse_value(option, text, kind)
    for item in args.set:
        key, value = parse_set(item)
        overrides[key] = value
    return overrides


def run(args) -> int:
    from ..runs.resume import resume
    from ..runs.run import run as run_config

    quiet = args.quiet or args.json  # --json: the summary alone, so stdout parses (errors still go to stderr)
    if args.resume:
        overrides = collect_overrides(args)
        device = overrides.pop("train.device", None)
        if overrides or args.out:
            raise ConfigError("--resume continues a run exactly as configured (only --device may change): "
                              "drop the other options")
        summary = resume(args.resume, quiet=quiet, stream=sys.stdout, device=device)
    else:
        config = cfg.resolve(recipe=args.recipe, path=args.config, overrides=collect_overrides(args))
        summary = run_config(config, out=args.out, force=args.force, quiet=quiet, stream=sys.stdout)
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0
