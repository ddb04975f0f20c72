"""Where a run goes: `runs/<time>-<what ran>/`, or the `--out` folder the user gave (checked)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..io.files import check_output_dir, make_dir
from . import config as cfg


def run_label(config: dict) -> str:
    """What ran, for a folder name: the config's name, then "+dataset" and "+784x256x10" where the dataset
    or the layers differ from the recipe of that name (always, for a config that is no recipe)."""
    name, dataset, layers = config["name"], config["data"]["dataset"], config["model"]["layers"]
    recipe = cfg.resolve(recipe=name) if name in cfg.recipe_names() else None
    parts = [name]
    if recipe is None or recipe["data"]["dataset"] != dataset:
        parts.append(dataset)
    if recipe is None or recipe["model"]["layers"] != layers:
        parts.append("x".join(map(str, layers)))
    return "+".join(parts)


def new_run_dir(config: dict, out=None, force: bool = False) -> Path:
    """`out` checked (absent, empty, or --force), or a fresh runs/<time>-<what ran> folder; created."""
    if out is None:
        stamp, label = datetime.now().strftime("%Y%m%d-%H%M%S"), run_label(config)
        out, suffix = Path("runs") / f"{stamp}-{label}", 1
        while out.exists():
            suffix += 1
            out = Path("runs") / f"{stamp}-{label}-{suffix}"
    out = check_output_dir(out, force)
    return make_dir(out)
