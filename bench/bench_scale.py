"""Jobs/s with 1 and 2 stock workers, and what each job costs Redis and PostgreSQL.

    python3 bench/run.py --only scale

Runs the Procfile's `worker` (1, then 2 of them) and `clock` lines on a scratch PostgreSQL
database and a private redis-server (nothing persisted), so that every Redis command and
every database transaction counted is ours: `INFO commandstats` and `pg_stat_database`
deltas over a batch of short camera-like videos, submitted through the web tier and run
to `completed`, divided by the number of jobs. A separate run of one longer job with
HEARTBEAT_SECONDS=1 counts the heartbeat's writes per second of job. Settings are the
README's defaults otherwise. Prints the per-job costs; returns the 2-vs-1 worker ratio.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from harness import Bench, Row, median
from redis import Redis

from tests.faults import private_redis, stacks
from tests.load import make_camera_like

#: The README's defaults (tests.faults lowers them for fault tests; here they are as shipped).
DEFAULTS = {
    "HEARTBEAT_SECONDS": "5",
    "HEARTBEAT_STALE_SECONDS": "30",
    "RECOVERY_INTERVAL_SECONDS": "30",
    "JOB_MAX_ATTEMPTS": "3",
}
_PG_FIELDS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted")


@dataclass
class Batch:
    """What one batch of jobs cost: wall seconds, Redis commands by name, PostgreSQL counters."""

    jobs: int
    seconds: float
    job_seconds: float
    redis: Counter[str]
    pg: dict[str, int]

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds


def _redis_commands(client: Redis) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()})


def _pg_counters(engine: sa.Engine) -> dict[str, int]:
    # The cumulative statistics are flushed at most once a second; wait for them.
    time.sleep(1.5)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(
            sa.text(
                f"SELECT {', '.join(_PG_FIELDS)} FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        ).one()
    return dict(zip(_PG_FIELDS, row, strict=True))


def _finished(engine: sa.Engine) -> int:
    # Read-only and rolled back: counted in xact_rollback, never in xact_commit.
    with engine.connect() as conn:
        query = "SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed')"
        return conn.execute(sa.text(query)).scalar_one()


def run_batch(bench: Bench, video: Path, jobs: int, workers: int, **settings: str) -> Batch:
    """Queue ``jobs`` copies of ``video``, then run them on ``workers`` stock workers.

    The counters cover the submissions, the workers' start and every job; the time runs
    from the first completion to the last, scaled to ``jobs`` jobs."""
    root = bench.workdir / f"scale_{time.monotonic_ns()}"
    root.mkdir()
    with (
        private_redis(root) as redis_server,
        stacks(redis_server.url, root, **{**DEFAULTS, **settings}) as (stack,),
    ):
        redis = redis_server.client()
        engine = sa.create_engine(stack.app.config["SQLALCHEMY_DATABASE_URI"])
        try:
            # Queued first, workers started after: the rate is the workers', not the submitter's.
            pg_before, redis_before = _pg_counters(engine), _redis_commands(redis)
            ids = [stack.submit(video, pipeline_id="frame_stats") for _ in range(jobs)]
            for _ in range(workers):
                stack.start("worker")
            stack.start("clock")
            stack.wait_until(lambda: _finished(engine) >= len(ids), 600, "jobs unfinished")
            redis_after, pg_after = _redis_commands(redis), _pg_counters(engine)
            with engine.connect() as conn:
                query = (
                    "SELECT min(j.updated_at), max(j.updated_at), "
                    "sum(extract(epoch FROM j.updated_at - r.claimed_at)) "
                    "FROM jobs j JOIN job_runs r USING (job_id)"
                )
                first, last, job_seconds = conn.execute(sa.text(query)).one()
        finally:
            engine.dispose()
            redis.close()
        failed = [i for i in ids if stack.status(i)["status"] != "completed"]
        assert not failed, stack.logs()[-3000:]
    pg = {k: pg_after[k] - pg_before[k] for k in _PG_FIELDS}
    # From the first completion to the last: worker start-up is left out.
    span = (last - first).total_seconds() * jobs / (jobs - 1) if jobs > 1 else 0.0
    seconds = span or float(job_seconds)
    return Batch(jobs, seconds, float(job_seconds), redis_after - redis_before, pg)


def _report(label: str, batch: Batch) -> None:
    total = sum(batch.redis.values())
    top = ", ".join(f"{n} {c / batch.jobs:.1f}" for n, c in batch.redis.most_common(8))
    pg = ", ".join(f"{k} {v / batch.jobs:.1f}" for k, v in batch.pg.items())
    print(
        f"{label}: {batch.jobs} jobs ({batch.job_seconds:.1f} job-seconds), "
        f"{batch.jobs_per_second:.2f} jobs/s; Redis {total / batch.jobs:.1f} commands/job "
        f"({top}); PostgreSQL per job: {pg}",
        file=sys.stderr,
        flush=True,
    )


def scale_ratio(bench: Bench) -> list[Row]:
    """2 stock workers' jobs/s over 1 worker's, and the per-job Redis/PostgreSQL costs."""
    jobs = 8 if bench.quick else 30
    short = bench.video("scale_1s", lambda p: make_camera_like(p, 1, 320, 240))
    one, two = [], []
    for run in range(bench.runs):
        one.append(run_batch(bench, short, jobs, 1))
        _report(f"run {run + 1}, 1 worker", one[-1])
        two.append(run_batch(bench, short, jobs, 2))
        _report(f"run {run + 1}, 2 workers", two[-1])
    # The heartbeat: one longer job with a beat every second, against one short job.
    long_video = bench.video("scale_long", lambda p: make_camera_like(p, 40, 640, 360))
    beat = run_batch(bench, long_video, 1, 1, HEARTBEAT_SECONDS="1")
    base = run_batch(bench, short, 1, 1, HEARTBEAT_SECONDS="1")
    extra = beat.pg["tup_updated"] - base.pg["tup_updated"]
    more_seconds = beat.job_seconds - base.job_seconds
    per_second = extra / more_seconds
    _report("heartbeat run, 1 long job", beat)
    _report("heartbeat run, 1 short job", base)
    print(
        f"heartbeat (HEARTBEAT_SECONDS=1): {extra} more rows updated over "
        f"{more_seconds:.1f} s more job = {per_second:.2f} writes/job-second",
        file=sys.stderr,
        flush=True,
    )
    rate1 = median([b.jobs_per_second for b in one])
    rate2 = median([b.jobs_per_second for b in two])
    redis1 = median([sum(b.redis.values()) / b.jobs for b in one + two])
    xacts = median([b.pg["xact_commit"] / b.jobs for b in one + two])
    return [
        Row(
            "jobs/s, 2 stock workers / 1 worker, 1 s 320x240 camera-like videos",
            rate2 / rate1,
            1.5,
            True,
            "x",
            f"{rate2:.2f} vs {rate1:.2f} jobs/s; Redis {redis1:.0f} commands/job, "
            f"PostgreSQL {xacts:.0f} commits/job",
        ),
        Row(
            "heartbeat writes per job-second at HEARTBEAT_SECONDS=1",
            per_second,
            1.1,
            False,
            "/s",
            f"{extra} updates over {more_seconds:.1f} s",
        ),
    ]
