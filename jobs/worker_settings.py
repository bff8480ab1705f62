"""Settings for a stock ``rq worker -c jobs.worker_settings``: pay the start-up cost once.

RQ imports this module in the worker's parent process, before it forks a work horse for
each job, so what is done here is inherited by every job: the video stack is imported,
the pipelines are compiled, the worker's app is built, WORK_DIR is swept of folders left
by killed work horses, and the plugins are warmed up.
Database connections are not inherited: each work horse drops the pool it got from the
parent right after the fork (without closing the parent's sockets) and opens its own.
RQ reads upper-case names here as its own settings; this module defines none.
"""

from __future__ import annotations

import logging
import os
import uuid

from jobs.tasks import worker_app
from jobs.workdir import sweep_workdir
from pipelines.engine import load_pipelines
from pipelines.registry import warm_up
from pipelines.service import VideoFilePipelineService
from webapp.extensions import db
from webapp.models import Job, JobStatus, claim, transition

log = logging.getLogger(__name__)


def _own_connections_after_fork() -> None:
    """In a freshly forked work horse, forget the parent's pooled database connections."""
    with worker_app().app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def _compile_job_statements() -> None:
    """Run the task's statements once on a job id no row has, so that every work horse
    inherits them compiled (SQLAlchemy's per-engine cache); they change nothing."""
    nobody = uuid.uuid4()
    with worker_app().app_context():
        try:
            db.session.get(Job, nobody)
            claim(nobody, 60.0)
            for status, values in (
                (JobStatus.COMPLETED, "output_path"),
                (JobStatus.FAILED, "error_message"),
            ):
                transition(nobody, [JobStatus.RUNNING], status, run_id=nobody, **{values: ""})
        except Exception as exc:  # only a warm-up: a database that is down now is not fatal
            log.warning("worker warm-up: job statements not compiled: %s", exc)
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()  # the parent keeps no connection for its work horses


def prepare_worker() -> None:
    """Import, compile and build everything a job needs, once, in the worker's parent."""
    load_pipelines()
    VideoFilePipelineService()
    sweep_workdir(worker_app().config["WORK_DIR"])  # folders of killed work horses
    _compile_job_statements()
    warm_up()
    os.register_at_fork(after_in_child=_own_connections_after_fork)


prepare_worker()
