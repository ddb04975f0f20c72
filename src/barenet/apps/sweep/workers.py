"""Workers: processes that take trials from one study until it has enough, on one machine or many.

A worker joins the study (created under the storage lock on first use), then loops: under the lock
it fails trials whose worker stopped beating (they are retried with the same parameters), counts
the study's finished and running trials, and takes the next trial only while fewer than `trials`
are finished or running; otherwise it waits for the running ones, or stops. `run_workers` starts
N such processes on this machine, each with its share of the cores for BLAS.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from ...errors import BarenetError, ConfigError, Interrupted
from .engine import make_pruner, make_sampler, optuna
from .plan import SweepPlan
from .storage import StorageLock, beat_for_silent_trials, open_storage, shown, storage_errors
from .trial import objective

POLL_S = 2.0  # how often a worker with nothing to take looks again
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
SIGNATURE_ATTR = "barenet_sweep"
STOPPED = "sweep stopped: the interrupted trials are queued again; rerun the same command to continue"


def join_study(plan: SweepPlan, storage: Any, lock: StorageLock, index: int = 0) -> Any:
    """The study (created if new), checked to be this sweep: the same base config and search space."""
    optuna_ = optuna()
    sampler = make_sampler(plan.sampler, plan.params, None if plan.seed is None else plan.seed + index)
    with lock:
        study = optuna_.create_study(storage=storage, study_name=plan.study, direction="maximize", sampler=sampler,
                                     pruner=make_pruner(plan.pruner, plan.prune_after), load_if_exists=True)
        saved = study.user_attrs.get(SIGNATURE_ATTR)
        if saved is None and not study.trials:
            study.set_user_attr(SIGNATURE_ATTR, plan.signature())
            study.set_user_attr("params", [p.describe() for p in plan.params])
        elif saved != plan.signature() or study.direction != optuna_.study.StudyDirection.MAXIMIZE:
            raise ConfigError(f"study {plan.study!r} in {shown(plan.storage)} was started with another config or "
                              f"search space: repeat its --recipe/--config, --set and --param, or name a new --study")
    return study


def counts(study) -> dict[str, int]:
    """Trials of the study by state name: COMPLETE, PRUNED, RUNNING, FAIL, WAITING."""
    found: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        found[trial.state.name] = found.get(trial.state.name, 0) + 1
    return found


class Worker:
    """One process's share of a sweep: `work()` runs trials until the study has `plan.trials` finished ones."""

    def __init__(self, plan: SweepPlan, index: int = 0, stream=None):
        self.plan, self.index, self.stream = plan, index, stream or sys.stderr
        self.lock = StorageLock(plan.storage)
        self.storage = open_storage(plan.storage, self.lock, plan.heartbeat_s)
        self.study = join_study(plan, self.storage, self.lock, index)
        self.current: Any = None  # the trial being trained

    def next_step(self) -> str:
        """Under the lock: "take" a new trial, "wait" for running ones, or "done"."""
        optuna().storages.fail_stale_trials(self.study)  # a killed worker's trial: failed, then queued again
        if self.plan.heartbeat_s:
            beat_for_silent_trials(self.storage, self.study.study_name)  # killed before its first beat: the same
        found = counts(self.study)
        if found.get("COMPLETE", 0) + found.get("PRUNED", 0) >= self.plan.trials:
            return "done"
        running = found.get("RUNNING", 0)
        return "wait" if found.get("COMPLETE", 0) + found.get("PRUNED", 0) + running >= self.plan.trials else "take"

    def work(self, deadline: float | None = None) -> int:
        """Take trials until done or past `deadline` (time.monotonic()); returns how many this worker ran."""
        ran, waiting = 0, False
        try:
            while deadline is None or time.monotonic() < deadline:
                self.lock.acquire()
                step = self.next_step()
                if step == "take":
                    self.run_one()
                    ran, waiting = ran + 1, False
                    continue
                self.lock.release()
                if step == "done":
                    break
                if not waiting:
                    self.say("waiting for the study's running trials (a stopped worker's trial is retried here)")
                waiting = True
                time.sleep(POLL_S)
        finally:
            self.lock.close()
        return ran

    def run_one(self) -> None:
        """One trial through Optuna (ask, heartbeat, tell); the lock is released once its values are drawn."""
        self.current = None
        try:
            self.study.optimize(lambda trial: objective(trial, self.plan, self.started), n_trials=1, catch=())
        except KeyboardInterrupt:
            self.retry_current()
            raise
        finally:
            self.lock.release()
        self.report(self.current.number)

    def started(self, trial, overrides: dict) -> None:
        self.current = trial
        self.lock.release()

    def retry_current(self) -> None:
        """A trial stopped by a signal is failed by Optuna; queue it again with the same values."""
        if self.current is not None:
            frozen = next(t for t in self.study.get_trials(deepcopy=False) if t.number == self.current.number)
            if frozen.state.name == "FAIL":
                optuna().storages.RetryHeartbeatStaleTrialCallback(max_retry=3)(self.study, frozen)

    def report(self, number: int) -> None:
        trial = next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)
        settings = ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                             for key, value in trial.params.items())
        values = list(trial.intermediate_values.values())
        accuracy = f"validation {values[-1]:.2%}" if values else "no epoch"
        status = trial.user_attrs.get("status", trial.state.name.lower())
        self.say(f"trial {number}: {settings}: {accuracy}, {status} after {trial.user_attrs.get('epochs', 0)} "
                 f"epochs, {trial.user_attrs.get('seconds', 0):.1f}s")

    def say(self, text: str) -> None:
        where = f"worker {self.index}: " if self.index else ""
        print(f"[sweep {self.plan.study}] {where}{text}", file=self.stream, flush=True)


def check_workers(workers: int) -> int:
    """`workers` when it is at least one, else a one-line ConfigError."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return workers


def blas_threads(workers: int) -> int:
    """Each of `workers` processes gets an equal share of this process's cores (at least one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def run_workers(plan: SweepPlan, workers: int = 1, stream=None) -> None:
    """Run the sweep here: in this process for one worker, else in `workers` processes (spawned, so their
    BLAS thread counts are set before NumPy loads); returns when all have stopped."""
    deadline = time.monotonic() + plan.timeout_s if plan.timeout_s else None
    if workers == 1:
        try:
            Worker(plan, 0, stream).work(deadline)
        except KeyboardInterrupt as exc:
            raise Interrupted(STOPPED, getattr(exc, "signal_number", 2)) from None
        return
    import multiprocessing

    context, threads = multiprocessing.get_context("spawn"), blas_threads(workers)
    saved = {name: os.environ.get(name) for name in BLAS_VARIABLES}
    os.environ.update(dict.fromkeys(BLAS_VARIABLES, str(threads)))
    try:
        processes = [context.Process(target=worker_main, args=(plan, i + 1, threads, plan.timeout_s),
                                     name=f"barenet-sweep-{i + 1}") for i in range(workers)]
        for process in processes:
            process.start()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    wait_for(processes)


def wait_for(processes: list) -> None:
    """Join the worker processes; on a stop, stop them too (each queues its trial again) and say so."""
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt as exc:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
        raise Interrupted(STOPPED, getattr(exc, "signal_number", 2)) from None
    failed = [process for process in processes if process.exitcode]
    if failed:
        raise ConfigError(f"{len(failed)} of {len(processes)} sweep workers stopped ({'; '.join(map(why, failed))}); "
                          f"the study keeps every finished trial: rerun the same command to continue")


def why(process) -> str:
    """How a worker process ended: killed by a signal (nothing said), with barenet's error (said above), or else."""
    import signal

    code, name = process.exitcode, process.name
    if code < 0:
        signame = signal.Signals(-code).name if -code in signal.Signals.__members__.values() else f"signal {-code}"
        cause = " (kill -9, or the system out of memory)" if -code == signal.SIGKILL else ""
        return f"{name} was killed by {signame}{cause}"
    if code == 2:
        return f"{name} stopped with the error above"
    return f"{name} exited with status {code}"


def worker_main(plan: SweepPlan, index: int, threads: int, timeout_s: float | None) -> None:
    """A worker process: BLAS limited to `threads`, stopped cleanly by SIGTERM or its parent's death."""
    import signal

    from threadpoolctl import threadpool_limits

    def stop(number, frame):
        raise Interrupted("", number)

    signal.signal(signal.SIGTERM, stop)
    watch_parent()
    try:
        with threadpool_limits(threads), storage_errors(plan.storage):
            Worker(plan, index).work(time.monotonic() + timeout_s if timeout_s else None)
    except BarenetError as exc:
        print(f"barenet: error: worker {index}: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        sys.exit(128 + getattr(exc, "signal_number", 2))


def watch_parent() -> None:
    """Stop this worker (SIGTERM to itself) when the process that started it is gone (killed with -9)."""
    import signal

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="barenet-sweep-parent").start()


def finished(study) -> int:
    found = counts(study)
    return found.get("COMPLETE", 0) + found.get("PRUNED", 0)


def run_sweep(plan: SweepPlan, workers: int = 1, stream=None) -> dict:
    """Join (or create) the study here first, so a bad storage or a mismatched study is one line before any
    worker starts; then run the workers. {"study", "finished" (trials this command finished), "seconds"}."""
    check_workers(workers)
    lock = StorageLock(plan.storage)
    with storage_errors(plan.storage):
        try:
            study = join_study(plan, open_storage(plan.storage, lock), lock)
        finally:
            lock.close()
        before, started = finished(study), time.perf_counter()
        run_workers(plan, workers, stream)
        return {"study": study, "finished": finished(study) - before, "seconds": time.perf_counter() - started}
