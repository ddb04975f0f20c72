"""Where a run goes: `runs/<time>-<what ran>/`, or the `--out` folder the user gave (checked)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..io.files import check_output_dir, make_dir
from . import config as cfg
from .folder import RunLock


def run_label(config: dict) -> str:
    """What ran, for a folder name: the config's name, then "+dataset" and "+784x256x10" where the dataset
    or the layers differ from the recipe it comes from (always, for a config that comes from no recipe)."""
    name, dataset, layers = config["name"], config["data"]["dataset"], config["model"]["layers"]
    origin = recipe_of(name)
    recipe = cfg.resolve(recipe=origin) if origin else None
    parts = [name]
    if recipe is None or recipe["data"]["dataset"] != dataset:
        parts.append(dataset)
    if recipe is None or recipe["model"]["layers"] != layers:
        parts.append("x".join(map(str, layers)))
    return "+".join(parts)


def recipe_of(name: str) -> str | None:
    """The recipe a config named `name` comes from: the recipe of that name, else the longest recipe name it
    starts with before a "-" (a sweep's trial "mnist-fast-trial7", a grid's run "mnist-optimizer.lr=0.3"), else None."""
    names = cfg.recipe_names()
    if name in names:
        return name
    bases = [recipe for recipe in names if name.startswith(f"{recipe}-")]
    return max(bases, key=len) if bases else None


def new_run_dir(config: dict, out=None, force: bool = False) -> Path:
    """`out` checked (absent, empty, or --force), or a fresh runs/<time>-<what ran> folder; created."""
    if out is None:
        stamp, label = datetime.now().strftime("%Y%m%d-%H%M%S"), run_label(config)
        out, suffix = Path("runs") / f"{stamp}-{label}", 1
        while out.exists():
            suffix += 1
            out = Path("runs") / f"{stamp}-{label}-{suffix}"
    RunLock.check_free(Path(out))  # a folder another run is writing: say so, not "add --force"
    out = check_output_dir(out, force)
    return make_dir(out)
