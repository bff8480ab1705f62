"""What the Procfile's ``clock`` process (`rq cron jobs/clock.py`) enqueues, and how often.

Every RECOVERY_INTERVAL_SECONDS (default 30) it puts `jobs.recovery.requeue_lost_jobs` on
the video queue (QUEUE_NAME); a worker runs it like any job. A run that waited longer than
an interval is dropped (``ttl``): the next one is already queued.
"""

from __future__ import annotations

import os

from rq import cron

from jobs.recovery import requeue_lost_jobs

QUEUE_NAME = os.environ.get("QUEUE_NAME") or "video_jobs"
INTERVAL = int(os.environ.get("RECOVERY_INTERVAL_SECONDS") or 30)

cron.register(
    requeue_lost_jobs,
    queue_name=QUEUE_NAME,
    interval=INTERVAL,
    job_timeout=max(60, INTERVAL),
    result_ttl=INTERVAL,
    ttl=2 * INTERVAL,
)
