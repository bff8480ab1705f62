"""What a newcomer copies from the README is true: the Procfile shown, Procfile.dev, the
configuration table and RQ's commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BIN = Path(sys.executable).parent
#: Where environment variables are read: the service's code, the Procfiles, tools/dev.py.
CODE_DIRS = ("webapp", "jobs", "pipelines")
ENV_READ = re.compile(
    r"""(?:\b(?:env|environ)\.get\(|\benviron\[|\bgetenv\(|\(\s*env\s*,\s*)\s*["']([A-Z][A-Z0-9_]+)["']"""
)
SHELL_VAR = re.compile(r"\$\{?([A-Z][A-Z0-9_]+)")


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def procfile_lines(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)  # honcho's own pattern
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_readme_shows_the_real_procfile() -> None:
    section = readme_section("Production: PostgreSQL + Redis, the Procfile way")
    shown = re.search(r"^```\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert shown, "the Procfile way shows no Procfile"
    assert shown.group(1) == (REPO / "Procfile").read_text(encoding="utf-8")


def test_procfile_dev_is_the_procfile_without_release() -> None:
    procfile = procfile_lines(REPO / "Procfile")
    dev = procfile_lines(REPO / "Procfile.dev")
    assert "release" in procfile and "release" not in dev
    assert dev == {name: cmd for name, cmd in procfile.items() if name != "release"}, (
        "Procfile.dev must repeat every Procfile line except release"
    )


def environment_variables_read() -> set[str]:
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            names |= set(ENV_READ.findall(path.read_text(encoding="utf-8")))
    names |= set(ENV_READ.findall((REPO / "tools" / "dev.py").read_text(encoding="utf-8")))
    for procfile in ("Procfile", "Procfile.dev"):
        names |= set(SHELL_VAR.findall((REPO / procfile).read_text(encoding="utf-8")))
    return names


def test_environment_reader_pattern_finds_the_usual_spellings() -> None:
    code = (
        'a = os.environ.get("ONE")\nb = env.get("TWO", "x")\nc = os.environ["THREE"]\n'
        'd = _positive_int(env, "FOUR", 3)\ne = os.getenv("FIVE")\nf = {"NOT_ME": 1}\n'
    )
    assert ENV_READ.findall(code) == ["ONE", "TWO", "THREE", "FOUR", "FIVE"]


def test_configuration_table_names_every_variable_the_code_reads() -> None:
    table = re.findall(r"^\|\s*`([A-Z0-9_*]+)`", readme_section("Configuration"), re.M)
    missing = [
        name
        for name in sorted(environment_variables_read())
        if not any(re.fullmatch(p.replace("*", ".*"), name) for p in table)
    ]
    assert {"DATABASE_URL", "HOST", "WEB_CONCURRENCY"} <= environment_variables_read()
    assert not missing, f"read but not in the README's configuration table: {missing}"


@pytest.fixture
def failed_rq_job(redis_url: str) -> Iterator[tuple[Queue, str]]:
    """A queue of this test's own holding one job in RQ's failed registry."""
    connection = Redis.from_url(redis_url)
    queue = Queue(f"docs_{uuid.uuid4().hex[:10]}", connection=connection)
    job = queue.enqueue("builtins.int", "not a number")
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    try:
        yield queue, job.id
    finally:
        queue.delete(delete_jobs=True)
        for registry in (queue.failed_job_registry, queue.finished_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)
        connection.close()


@pytest.mark.integration
def test_readme_rq_commands_work_against_our_queue(
    failed_rq_job: tuple[Queue, str], redis_url: str
) -> None:
    queue, job_id = failed_rq_job
    commands = re.findall(
        r"^(rq (?:info|requeue) .+?)\s+#", readme_section("Operator commands"), re.M
    )
    assert any(" requeue " in c for c in commands) and any(" info " in c for c in commands)
    env = {**os.environ, "REDIS_URL": redis_url, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        if "--interval" in command:
            continue  # refreshes until interrupted
        command = command.replace("video_jobs", queue.name)
        proc = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, f"{command}: {proc.stdout}{proc.stderr}"
        if " info " in command:
            assert queue.name in proc.stdout
        else:
            assert queue.job_ids == [job_id], proc.stdout
            assert job_id not in queue.failed_job_registry.get_job_ids()
