"""A run's health: the training doctor's telemetry (health.csv), its picture (health.png), and the diagnoses of
a run folder, also of runs trained before the doctor existed (from metrics.csv alone).

    doctor = run_doctor(run_dir, resumed_epoch, quiet, stream)   # a run's Doctor (telemetry restored on resume)
    write_health(run_dir, doctor)                            # health.csv and health.png: a panel per statistic,
                                                             # a line per layer, over steps
    found = examine_run(read_run(run_dir))                   # RunHealth: diagnoses, where they came from, telemetry

health.csv has one row per probe and watched layer (layer 0 is the input; see `training.telemetry` for
what each column measures); a number that does not apply is an empty cell.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..io.files import write_text
from ..training.diagnoses import PROBLEM, Diagnosis, Evidence
from ..training.doctor import HEALTH_KEYS, Doctor, replay
from ..training.telemetry import STATS, LayerSpec
from . import reports

HEALTH_CSV, HEALTH_PNG = "health.csv", "health.png"
COLUMNS = (*HEALTH_KEYS, "layer", "activation", "units", *STATS)
INTEGERS = ("step", "epoch", "batch", "layer", "units")
MAX_HEALTH_BYTES = 64 << 20
# (statistic, panel title, log scale): the panels of health.png
PANELS = (("mean", "activation mean", False), ("std", "activation std", True),
          ("dead", "dead ReLUs (share of units)", False),
          ("saturated", "saturated sigmoid/tanh outputs (share)", False),
          ("grad_rms", "gradient RMS of W", True), ("update_ratio", "update ratio: RMS(step of W) / RMS(W)", True))


def write_health_csv(path, rows: list[dict]) -> None:
    """The telemetry rows as CSV (atomically), NaN as an empty cell; nothing without rows."""
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in COLUMNS})
    write_text(path, buffer.getvalue())


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else str(value)


def read_health_csv(path) -> list[dict]:
    """health.csv back as rows ([] when absent); a damaged file is a one-line ConfigError naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    if path.stat().st_size > MAX_HEALTH_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_HEALTH_BYTES >> 20} MiB: is it a barenet health.csv?")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ConfigError(f"{path} lacks the column(s) {', '.join(sorted(missing))}: it is not a barenet "
                                  f"health.csv (delete it to diagnose from metrics.csv alone)")
            for row in reader:
                rows.append(_parsed(row))
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path} is damaged ({exc}): delete it to diagnose from metrics.csv alone") from None
    return rows


def _parsed(row: dict) -> dict:
    parsed: dict = {}
    for key in COLUMNS:
        text = (row.get(key) or "").strip()
        if key == "activation":
            parsed[key] = text
        elif key in INTEGERS:
            parsed[key] = int(text)
        else:
            parsed[key] = float(text) if text else math.nan
    return parsed


def layer_specs(rows: list[dict]) -> list[LayerSpec]:
    """The watched layers named in health rows, by index."""
    specs = {int(row["layer"]): LayerSpec(int(row["layer"]), str(row["activation"]), int(row["units"])) for row in rows}
    return [specs[index] for index in sorted(specs)]


# ----- the picture -------------------------------------------------------------------------------
def plot_health(rows: list[dict], path, diagnoses: Sequence[Diagnosis] = (), title: str = "") -> None:
    """health.png: one panel per statistic (PANELS), one line per layer (the input's in the std panel), over
    optimizer steps; a dotted red line marks the step each problem fired at."""
    plt = reports.pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5), sharex=True)
    fig.subplots_adjust(left=0.05, right=0.98, top=0.91, bottom=0.07, wspace=0.22, hspace=0.32)
    specs = layer_specs(rows)
    for ax, (stat, label, log) in zip(axes.flat, PANELS):
        drawn = _plot_panel(ax, rows, specs, stat, log)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        if not drawn:
            ax.text(0.5, 0.5, "does not apply to these layers", ha="center", va="center", transform=ax.transAxes,
                    color="0.5")
        if stat == "update_ratio":
            ax.axhline(1e-3, color="0.4", linestyle="--", linewidth=0.8, label="1e-3 (a healthy step)")
        _mark(ax, diagnoses)
    for ax in axes[-1]:
        ax.set_xlabel("optimizer step")
    if axes.flat[1].has_data():
        axes.flat[1].legend(fontsize=7, loc="best")  # the std panel: every layer and the input
    fig.suptitle(title or "training health")
    reports.save_figure(fig, path)


def _plot_panel(ax, rows: list[dict], specs: list[LayerSpec], stat: str, log: bool) -> bool:
    """One line per layer of `stat` over steps; False when no layer has a value."""
    drawn = False
    for spec in specs:
        if spec.index == 0 and stat != "std":  # the input's scale beside the layers' (its mean would dwarf theirs)
            continue
        points = [(row["step"], row[stat]) for row in rows if row["layer"] == spec.index and math.isfinite(row[stat])
                  and (not log or row[stat] > 0)]
        if not points:
            continue
        name = "input" if spec.index == 0 else f"layer {spec.index} ({spec.activation}, {spec.units})"
        style = {"color": "0.5", "linestyle": ":"} if spec.index == 0 else {"color": f"C{(spec.index - 1) % 10}"}
        ax.plot(*zip(*points), linewidth=1, label=name, **style)
        drawn = True
    if drawn and log:
        ax.set_yscale("log")
    return drawn


def _mark(ax, diagnoses) -> None:
    for diagnosis in diagnoses:
        if diagnosis.severity == "problem" and diagnosis.step > 0:
            ax.axvline(diagnosis.step, color="tab:red", linestyle=":", linewidth=1)


# ----- a run folder's diagnoses ---------------------------------------------------------------------
@dataclass
class RunHealth:
    """What `barenet doctor` shows for a run folder: its diagnoses, where they came from, its telemetry."""

    diagnoses: list[Diagnosis]
    source: str
    rows: list[dict] = field(default_factory=list)

    @property
    def problems(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.severity == "problem"]


def examine_run(run: dict) -> RunHealth:
    """The diagnoses of a run (as `runs.history.read_run` reads it): those its summary.json recorded, else the
    rules replayed over health.csv and metrics.csv (a run stopped before it wrote a summary), else over
    metrics.csv alone (a run trained before the training doctor: only the rules on the curves can speak)."""
    folder, summary, config = run["folder"], run["summary"] or {}, run["config"]
    rows = read_health_csv(folder / HEALTH_CSV)
    if isinstance(summary.get("diagnoses"), list):
        try:
            return RunHealth([Diagnosis.from_dict(d) for d in summary["diagnoses"]], "summary.json", rows)
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{folder}/summary.json has damaged diagnoses: delete the file to diagnose the "
                              f"run again from its telemetry") from None
    evidence = _evidence(config, rows)
    found = replay(evidence, rows, run["metrics"], stopped=summary.get("stopped", ""))
    source = "health.csv and metrics.csv" if rows else ("metrics.csv alone (the run predates the training doctor, "
                                                        "so only the rules on the loss and accuracy curves apply)")
    return RunHealth(found, source, rows)


def _evidence(config: dict, rows: list[dict]) -> Evidence:
    """Evidence for replaying a run: its layers from health.csv, else from its config."""
    model = config.get("model", {})
    sizes = [int(size) for size in model.get("layers", [])]
    classes = max(2, sizes[-1]) if sizes else 10
    rates = model.get("dropout", 0.0)
    dropout = max([*(rates if isinstance(rates, list) else [rates]), model.get("input_dropout", 0.0)])
    batch = config.get("train", {}).get("batch_size", 128)
    data = config.get("data", {})
    training_rows = int(data.get("subset") or 0) or 60000 - int(data.get("validation", 0) or 0)
    batch = training_rows if batch == "full" else max(int(batch), 1)
    scale = float(batch if config.get("loss", {}).get("reduction") == "sum" else 1)
    if rows:
        return Evidence(layer_specs(rows), classes, dropout=float(dropout), gradient_scale=scale)
    activation = model.get("activation", "relu")
    kinds = activation if isinstance(activation, list) else [activation] * max(len(sizes) - 2, 0)
    specs = [LayerSpec(0, "input", sizes[0] if sizes else 0)] + [
        LayerSpec(i + 1, (kinds[i] if i < len(kinds) else "identity"), size) for i, size in enumerate(sizes[1:])]
    return Evidence(specs, classes, steps_per_epoch=math.ceil(training_rows / batch), dropout=float(dropout),
                    gradient_scale=scale)


# ----- a training run's doctor ------------------------------------------------------------------------
def run_doctor(run_dir: Path, resumed_epoch: int, quiet: bool, stream) -> Doctor:
    """The Doctor of a run in `run_dir`: printing problems to `stream` as they fire (unless quiet); a resumed
    run's telemetry of its first `resumed_epoch` epochs read back from health.csv."""
    doctor = Doctor(report=None if quiet else _printer(stream))
    if resumed_epoch:
        doctor.health = [row for row in read_health_csv(run_dir / HEALTH_CSV) if row["epoch"] <= resumed_epoch]
    return doctor


def _printer(stream):
    def report(diagnosis: Diagnosis) -> None:
        if diagnosis.severity == PROBLEM:
            from tqdm import tqdm

            tqdm.write(diagnosis.line(), file=stream)  # above a progress bar, not through it

    return report


def write_health(run_dir: Path, doctor: Doctor, title: str = "") -> list[str]:
    """health.csv and health.png of the run so far; the names written ([] before the first probe)."""
    if not doctor.health:
        return []
    write_health_csv(run_dir / HEALTH_CSV, doctor.health)
    plot_health(doctor.health, run_dir / HEALTH_PNG, doctor.diagnoses, title=title)
    return [HEALTH_CSV, HEALTH_PNG]


def print_diagnoses(diagnoses: Sequence[Diagnosis], stream) -> None:
    """The end of a run: every diagnosis again, problems first, or a line saying there were none."""
    if not diagnoses:
        print("the training doctor found no problems", file=stream)
        return
    problems = sum(d.severity == PROBLEM for d in diagnoses)
    print(f"the training doctor found {problems} problem(s) and {len(diagnoses) - problems} note(s):", file=stream)
    for diagnosis in sorted(diagnoses, key=lambda d: d.severity != PROBLEM):
        print(f"  {diagnosis.line()}", file=stream)
