"""`barenet recipes list|show NAME`: the named configurations shipped with barenet."""

from __future__ import annotations

from ..runs import config as cfg


def register(sub) -> None:
    import argparse
    import textwrap

    names = cfg.recipe_names()
    width = max(len(name) for name in names)
    listing = "\n".join(textwrap.fill(cfg.load_recipe(name).get("description", ""), 116,
                                       initial_indent=f"  {name:<{width}}  ", subsequent_indent=" " * (width + 4))
                         for name in names)
    p = sub.add_parser("recipes", help="list the shipped recipes or show one",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="The named configurations barenet ships: barenet train --recipe NAME trains one, "
                                   "and barenet train --config FILE a copy you edited.",
                       epilog=f"recipes (measured accuracies: docs/RESULTS.md):\n{listing}")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                   help="list: every shipped recipe with its description (the default); show NAME: its TOML, "
                        "every setting it makes")
    p.add_argument("name", nargs="?", help="the recipe to show")
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
