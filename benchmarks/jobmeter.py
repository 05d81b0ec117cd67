"""CPU seconds and peak memory of a command and of each job it starts.

:func:`run_measured` runs a command (a Snakemake run, a shell pipeline) and
returns its exact total CPU time (user + system of every process it started,
from ``getrusage(RUSAGE_CHILDREN)``) and, per job, what a sampler thread saw
every ``interval`` seconds. A job is a direct child of the command's process
(Snakemake starts each shell or script job as its own child process) with all
its descendants:

* ``cpu_s``: user + system time of the job's processes, including the children
  they have already reaped, at the last sample before the job ended (the last
  ``interval`` of a job is not seen: a job's figure is a slight underestimate,
  the total is exact);
* ``peak_rss_mb``: the largest sum of the resident memory of the job's
  processes at one sample (what a cluster's memory limit compares against).

Not a test: used by the scripts in ``benchmarks/``.
"""

from __future__ import annotations

import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Job:
    """What the sampler saw of one job (a direct child of the measured command)."""

    pid: int
    command: str
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    first_seen: float = 0.0
    last_seen: float = 0.0


@dataclass
class Measurement:
    """Exact total CPU of a command, its wall time, and the sampled jobs."""

    cpu_s: float
    wall_s: float
    jobs: list[Job] = field(default_factory=list)
    peak_rss_mb: float = 0.0  # largest sum over all processes of the command at one sample


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _tree_rss(processes: list[psutil.Process]) -> int:
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.jobs: dict[int, Job] = {}
        self.peak_rss = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def sample(self) -> None:
        now = time.perf_counter()
        try:
            children = self.root.children()
        except psutil.Error:
            return
        overall = _tree_rss([self.root])
        for child in children:
            try:
                tree = [child, *child.children(recursive=True)]
                command = " ".join(child.cmdline())
            except psutil.Error:
                continue
            job = self.jobs.setdefault(child.pid, Job(child.pid, command, first_seen=now))
            rss = _tree_rss(tree)
            overall += rss
            job.peak_rss_mb = max(job.peak_rss_mb, rss / 2**20)
            job.cpu_s = max(job.cpu_s, _tree_cpu(tree))
            job.last_seen = now
        self.peak_rss = max(self.peak_rss, overall)


def run_measured(
    cmd: list[str] | str,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    interval: float = 0.05,
    shell: bool = False,
    log: str | Path | None = None,
) -> Measurement:
    """Run ``cmd`` to completion and measure it (see the module docstring)."""
    before = _children_cpu()
    start = time.perf_counter()
    with open(log or "/dev/null", "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, shell=shell, stdout=out, stderr=out)
        sampler = _Sampler(proc.pid, interval)
        sampler.start()
        returncode = proc.wait()
    sampler.stop.set()
    sampler.join()
    wall = time.perf_counter() - start
    if returncode != 0:
        raise RuntimeError(f"{cmd if isinstance(cmd, str) else ' '.join(cmd)} exited {returncode}")
    return Measurement(
        cpu_s=_children_cpu() - before,
        wall_s=wall,
        jobs=sorted(sampler.jobs.values(), key=lambda j: j.first_seen),
        peak_rss_mb=sampler.peak_rss / 2**20,
    )
