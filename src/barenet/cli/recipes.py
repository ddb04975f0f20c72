"""`barenet recipes list|show NAME`: the named configurations shipped with barenet."""

from __future__ import annotations

from ..runs import config as cfg


def register(sub) -> None:
    p = sub.add_parser("recipes", help="list the shipped recipes or show one")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?", help="recipe to show")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.action == "show":
        if not args.name:
            from ..errors import ConfigError

            raise ConfigError("'barenet recipes show' needs a recipe name: see 'barenet recipes list'")
        print(cfg.recipe_text(args.name), end="")
        return 0
    names = cfg.recipe_names()
    width = max(len(n) for n in names)
    for name in names:
        description = cfg.load_recipe(name).get("description", "")
        print(f"{name:<{width}}  {description}")
    return 0
