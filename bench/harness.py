"""What every benchmark shares: rows held to a limit, the bench context, medians and timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One figure: its measured value, its limit, and whether the limit is a floor or a cap."""

    figure: str
    measured: float
    limit: float
    at_least: bool
    unit: str = "x"
    detail: str = ""

    @property
    def met(self) -> bool:
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit


@dataclass
class Bench:
    """What a benchmark gets: a scratch folder, the number of runs, and generated videos."""

    workdir: Path
    runs: int
    quick: bool
    _videos: dict[str, Path] = field(default_factory=dict)

    def video(self, name: str, make: Callable[[Path], Path]) -> Path:
        """A generated video, made once per bench run and shared by the benchmarks."""
        if name not in self._videos:
            self._videos[name] = make(self.workdir / f"{name}.mp4")
        return self._videos[name]


def median(values: list[float]) -> float:
    """The median of the runs (the figure every row reports)."""
    return statistics.median(values)


def timed(work: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started
