"""What the Procfile's ``clock`` process (`rq cron jobs/clock.py`) enqueues, and how often.

Every RECOVERY_INTERVAL_SECONDS (default 30) it puts `jobs.recovery.requeue_lost_jobs` on
the queue ``<QUEUE_NAME>_recovery``, which the Procfile's workers listen to before the video
queue: the next free worker runs it, ahead of any backlog of videos. A run that waited
longer than two intervals (every worker busy) is dropped (``ttl``): a newer one is queued.
"""

from __future__ import annotations

import os

from rq import cron

from jobs.recovery import requeue_lost_jobs

RECOVERY_QUEUE = (os.environ.get("QUEUE_NAME") or "video_jobs") + "_recovery"
INTERVAL = int(os.environ.get("RECOVERY_INTERVAL_SECONDS") or 30)

cron.register(
    requeue_lost_jobs,
    queue_name=RECOVERY_QUEUE,
    interval=INTERVAL,
    job_timeout=max(60, INTERVAL),
    result_ttl=INTERVAL,
    ttl=2 * INTERVAL,
)
