"""Every benchmark in one command, as ratios to its limit measured side by side in one run.

    python3 bench/run.py [--runs 3] [--only decode,startup,memory,shots,http,scale] [--quick]

Each benchmark is a function in BENCHMARKS: it receives a Bench (a scratch folder, the run
count, cached generated videos) and returns Rows. A row is one figure and the limit it is
held to; `measured/limit` below 1.0 (for "at most" limits) or above 1.0 (for "at least"
limits) means the target is met. Every figure is the median of --runs runs, interleaved
with the reference it is compared to. Other processes on the machine make absolute times
noisy: read the ratios, and say how loaded the machine was (the table prints the load).
Add a benchmark by writing a function that returns Rows and listing it in BENCHMARKS.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).absolute().parent.parent))  # the repository, for imports


from bench_decode import decode_speed
from bench_http import http_figures
from bench_memory import flat_memory
from bench_scale import scale_ratio
from bench_shots import shots_speed
from bench_startup import job_start_latency
from harness import Bench, Row

#: name -> benchmark, run in this order; add yours here (and a line in bench/README.md).
BENCHMARKS: dict[str, Callable[[Bench], list[Row]]] = {
    "decode": decode_speed,
    "startup": job_start_latency,
    "memory": flat_memory,
    "shots": shots_speed,
    "http": http_figures,
    "scale": scale_ratio,
}


def format_table(rows: list[Row]) -> str:
    """The one table: figure, measured, limit, measured/limit, met."""
    lines = [
        "| figure | measured | limit | measured/limit | met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        sign = ">=" if row.at_least else "<="
        ratio = row.measured / row.limit if row.limit else float("nan")
        figure = f"{row.figure} ({row.detail})" if row.detail else row.figure
        lines.append(
            f"| {figure} | {row.measured:.3g} {row.unit} | {sign} {row.limit:g} {row.unit} "
            f"| {ratio:.2f} | {'yes' if row.met else 'NO'} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """Where the figures were measured, and how busy the machine was."""
    load = os.getloadavg()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--quick", action="store_true", help="shorter videos, for a smoke run")
    args = parser.parse_args(argv)
    available = BENCHMARKS
    chosen = [n for n in args.only.split(",") if n] or list(available)
    unknown = set(chosen) - set(available)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; choose from {sorted(available)}")
    rows: list[Row] = []
    started = machine()
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp:
        bench = Bench(Path(tmp), max(1, args.runs), args.quick)
        for name in chosen:
            print(f"running {name}...", file=sys.stderr, flush=True)
            rows.extend(available[name](bench))
    print(f"machine at start: {started}")
    print(f"machine at end:   {machine()}")
    print(f"median of {args.runs} runs per figure\n")
    print(format_table(rows))
    return 0 if all(r.met for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
