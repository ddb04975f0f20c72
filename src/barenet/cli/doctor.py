"""`barenet doctor RUN_DIR`: what the training doctor says about a run, and where its health plot is.

A run trained with the doctor has its diagnoses in summary.json; one stopped before it wrote a summary
is diagnosed again from health.csv and metrics.csv; one trained before the doctor existed, from
metrics.csv alone (only the rules on the loss and accuracy curves can speak there). Exit status 1 when
a problem was found, 0 when none, 2 on an error.
"""

from __future__ import annotations

import json


def register(sub) -> None:
    parser = sub.add_parser("doctor", help="why a run did not learn: its diagnoses and health plot",
                            description="Print the training doctor's diagnoses of a run (each with a stable code, "
                                        "the number that shows it and the usual fix) and the path of its health "
                                        "plot. Exit status 1 when it found a problem.")
    parser.add_argument("run", metavar="RUN_DIR", help="a run folder, or part of a folder name under --dir")
    parser.add_argument("--dir", default="runs", help="the folder holding run folders (default: runs)")
    parser.add_argument("--json", action="store_true", help="print the diagnoses as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ConfigError
    from ..runs.health import HEALTH_PNG, examine_run, plot_health
    from ..runs.history import find_run, read_run

    folder = find_run(args.dir, args.run)
    found_run = read_run(folder)
    if found_run is None:
        raise ConfigError(f"{folder}: its config.toml cannot be read: is it a run folder?")
    health = examine_run(found_run)
    plot = folder / HEALTH_PNG
    if health.rows and not plot.is_file():  # telemetry without its picture (a run killed mid-epoch): draw it
        plot_health(health.rows, plot, health.diagnoses, title=f"{folder.name}: training health")
    if args.json:
        print(json.dumps({"run_dir": str(folder), "source": health.source,
                          "diagnoses": [d.to_dict() for d in health.diagnoses],
                          "health_plot": str(plot) if plot.is_file() else None}, indent=2))
        return 1 if health.problems else 0
    problems, notes = len(health.problems), len(health.diagnoses) - len(health.problems)
    verdict = f"{problems} problem(s), {notes} note(s)" if health.diagnoses else "no problems found"
    print(f"{folder}: {verdict} (from {health.source})")
    for diagnosis in sorted(health.diagnoses, key=lambda d: d.severity != "problem"):
        print(diagnosis.line())
    print(f"health plot: {plot}" if plot.is_file() else "health plot: none (the run has no health.csv)")
    return 1 if health.problems else 0
