"""The training doctor's confusion table: every broken configuration of the corpus, its expected code against the
codes that fired (what docs/RESULTS.md shows).

    python benchmarks/doctor_corpus.py                 # the table in Markdown, then one line per case
    python benchmarks/doctor_corpus.py --json out.json

The corpus is tests/doctor_corpus.py (the slow tests train the same cases and require each expected code).
Real MNIST is found as the tests find it (tests/helpers.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from doctor_corpus import CORPUS, train_broken  # noqa: E402
from helpers import data_folder  # noqa: E402


def run_corpus() -> list[dict]:
    data = {"mnist": data_folder("mnist")}
    if data["mnist"] is None:
        raise SystemExit("real MNIST not found (see tests/helpers.py): barenet data download")
    results = []
    for case in CORPUS:
        started = time.perf_counter()
        diagnoses, ended, _, rows = train_broken(case, data)
        results.append({"name": case.name, "expected": case.expected, "fired": [d.code for d in diagnoses],
                        "lines": [d.line() for d in diagnoses], "ended": ended, "epochs": len(rows),
                        "accuracy": rows[-1]["accuracy"] if rows else None,
                        "seconds": round(time.perf_counter() - started, 1)})
        print(f"{case.name}: {', '.join(results[-1]['fired']) or '-'}", file=sys.stderr, flush=True)
    return results


def confusion_table(results: list[dict]) -> str:
    """Markdown: one row per expected code, one column per code that fired anywhere; cells count cases."""
    from barenet.training.rules import CODES

    fired = [code for code in CODES if any(code in r["fired"] for r in results)]
    expected = [code for code in CODES if any(r["expected"] == code for r in results)]
    lines = ["| expected \\ fired | cases | " + " | ".join(f"`{code}`" for code in fired) + " |",
             "|---|---|" + "---|" * len(fired)]
    for code in expected:
        cases = [r for r in results if r["expected"] == code]
        cells = [str(sum(c in r["fired"] for r in cases)) or "" for c in fired]
        lines.append(f"| `{code}` | {len(cases)} | " + " | ".join(cell if cell != "0" else "" for cell in cells) + " |")
    return "\n".join(lines)


def case_table(results: list[dict]) -> str:
    lines = ["| configuration | expected | fired | got it |", "|---|---|---|---|"]
    for r in results:
        got = "yes" if r["expected"] in r["fired"] else "**no**"
        lines.append(f"| {r['name']} | `{r['expected']}` | {', '.join(f'`{c}`' for c in r['fired']) or '-'} | {got} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = run_corpus()
    hits = sum(r["expected"] in r["fired"] for r in results)
    print(f"{hits} of {len(results)} configurations got their expected code\n")
    print(confusion_table(results), "\n")
    print(case_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
