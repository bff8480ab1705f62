"""The Phase 16 notes cannot drift: their examples, commands, links and names are checked.

* ENDPOINTS.md: every request/response example is sent to the live app and compared.
* PHASE_16_ROLLBACK.md: its `alembic downgrade` runs against a scratch PostgreSQL database, every
  path it removes exists, and its whole bash block, run on a copy of the repository, leaves
  exactly the project skeleton behind.
* Every relative link resolves, PHASE_16_OVERVIEW.md links every note, every `module.name` and every
  repository path named in backticks exists.
"""

from __future__ import annotations

import contextlib
import http
import importlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from jobs.tasks import process_video_job
from tests.conftest import TEST_REDIS_URL, alembic_config
from webapp import create_app
from webapp.config import normalise_database_url

REPO = Path(__file__).resolve().parent.parent
NOTES = REPO / ".ampcode" / "04_PHASE_NOTES" / "Phase_16"
REQUIRED_NOTES = [
    "PHASE_16_OVERVIEW.md",
    "PHASE_16_ARCHITECTURE.md",
    "PHASE_16_SCOPE.md",
    "ENDPOINTS.md",
    "GOVERNANCE_RULES.md",
    "WORKER_LIFECYCLE.md",
    "DEFINITION_OF_DONE.md",
    "RELEASE_NOTES.md",
    "PHASE_16_ROLLBACK.md",
]
#: The commit before this phase; the rollback must restore exactly its files.
SKELETON_COMMIT = "5506aa2"
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def note_paths() -> list[Path]:
    return sorted(NOTES.glob("*.md"))


def fenced_blocks(text: str, language: str) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(text) if m.group(1) == language]


def without_code(text: str) -> str:
    """Markdown text with fenced blocks and inline code removed (links there are not links)."""
    text = FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def test_every_required_note_exists() -> None:
    missing = [name for name in REQUIRED_NOTES if not (NOTES / name).is_file()]
    assert not missing, f"missing Phase 16 notes: {missing}"


# --------------------------------------------------------------------------- ENDPOINTS.md

PLACEHOLDERS = {
    "<uuid>": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "<iso8601>": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00",
    "<int>": r"\d+",
    "<text>": r".+",
}
PLACEHOLDER = re.compile(r"<[a-z0-9_]+>")


@dataclass
class Exchange:
    """One documented request and the response the document promises."""

    method: str
    path: str
    fields: dict[str, str]
    status: int
    reason: str
    body: Any


def parse_exchanges(text: str) -> list[Exchange]:
    exchanges = []
    for block in fenced_blocks(text, "http"):
        lines = block.splitlines()
        split = next(i for i, line in enumerate(lines) if line.startswith("HTTP/1.1 "))
        method, path = lines[0].split()
        fields = dict(line.split("=", 1) for line in lines[1:split] if line.strip())
        _, code, reason = lines[split].split(" ", 2)
        body = json.loads("\n".join(lines[split + 1 :]))
        exchanges.append(Exchange(method, path, fields, int(code), reason, body))
    return exchanges


class Matcher:
    """Compares a documented body with a real one; `<job_id>` binds at a successful submit."""

    def __init__(self) -> None:
        self.job_id: str | None = None
        self.int_values: list[str] = []

    def string_pattern(self, expected: str) -> re.Pattern[str]:
        pattern, pos = "", 0
        for m in PLACEHOLDER.finditer(expected):
            pattern += re.escape(expected[pos : m.start()])
            name = m.group()
            if name == "<job_id>":
                assert self.job_id, "the document uses <job_id> before any submit"
                pattern += re.escape(self.job_id)
            else:
                assert name in PLACEHOLDERS, f"unknown placeholder {name}"
                group = "int" if name == "<int>" and "(?P<int>" not in pattern else None
                sub = PLACEHOLDERS[name]
                pattern += f"(?P<{group}>{sub})" if group else f"(?:{sub})"
            pos = m.end()
        return re.compile(pattern + re.escape(expected[pos:]))

    def check(self, expected: Any, actual: Any, where: str = "body") -> None:
        if expected == "<number>":
            assert isinstance(actual, int | float) and not isinstance(actual, bool), where
        elif expected == "<bool>":
            assert isinstance(actual, bool), f"{where}: {actual!r} is not a boolean"
        elif isinstance(expected, str):
            assert isinstance(actual, str), f"{where}: {actual!r} is not a string"
            match = self.string_pattern(expected).fullmatch(actual)
            assert match, f"{where}: {actual!r} does not match the document's {expected!r}"
            if "int" in match.groupdict():
                self.int_values.append(match.group("int"))
        elif isinstance(expected, dict):
            assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
            assert list(actual) == list(expected), f"{where}: keys {list(actual)}"
            for key, value in expected.items():
                self.check(value, actual[key], f"{where}.{key}")
        elif isinstance(expected, list):
            assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
            assert len(actual) == len(expected), (
                f"{where}: {len(actual)} items, not {len(expected)}"
            )
            for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
                self.check(want, got, f"{where}[{i}]")
        else:
            assert type(actual) is type(expected) and actual == expected, (
                f"{where}: {actual!r} != documented {expected!r}"
            )


class HeldQueue:
    """Holds submitted job ids until the document shows a finished job, then runs them."""

    def __init__(self, app: Flask) -> None:
        self.app, self.ids = app, []

    def enqueue(self, job_id: str) -> None:
        self.ids.append(job_id)

    def lost_job_reason(self, job_id: str) -> str | None:
        return None

    def run_all(self) -> None:
        while self.ids:
            job_id = self.ids.pop(0)
            # A failing job raises after recording the failure on its row, which the doc shows.
            with self.app.app_context(), contextlib.suppress(Exception):
                process_video_job(job_id)


def describes_finished_job(exchange: Exchange) -> bool:
    body = exchange.body
    if body.get("status") in ("completed", "failed") or "results" in body:
        return True
    return " failed: " in str(body.get("detail", ""))


@pytest.fixture
def upload_files(tmp_path: Path, video_30: Path) -> dict[str, bytes]:
    return {
        "<clip.mp4>": video_30.read_bytes(),
        "<notes.txt>": b"these are notes, not a video\n",
        "<broken.mp4>": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + b"\x17" * 5000,
        "<big.mp4>": b"\x00\x00\x00\x18ftypisom" + bytes(2 * 1024 * 1024),
    }


def test_endpoint_examples_match_the_live_app(
    sqlite_app: Flask, tmp_path: Path, upload_files: dict[str, bytes]
) -> None:
    exchanges = parse_exchanges((NOTES / "ENDPOINTS.md").read_text(encoding="utf-8"))
    queue = HeldQueue(sqlite_app)
    sqlite_app.extensions["video_queue"] = queue
    # 413 needs a small limit: create_app derives MAX_CONTENT_LENGTH from MAX_UPLOAD_MB.
    small = create_app(
        {
            **{k: sqlite_app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "STORAGE_URL")},
            "REDIS_URL": None,
            "MAX_UPLOAD_MB": 1,
        }
    )
    matcher = Matcher()
    for n, ex in enumerate(exchanges, start=1):
        where = f"example {n} ({ex.method} {ex.path} -> {ex.status})"
        if describes_finished_job(ex):
            queue.run_all()
        path = ex.path.replace("<job_id>", matcher.job_id or "<job_id>")
        files = {k: v for k, v in ex.fields.items() if v.startswith("@")}
        client = (small if "@<big.mp4>" in files.values() else sqlite_app).test_client()
        if ex.method == "POST":
            data: dict[str, Any] = {k: v for k, v in ex.fields.items() if k not in files}
            for key, value in files.items():
                name = value[1:]
                data[key] = (io.BytesIO(upload_files[name]), name.strip("<>"))
            response = client.post(path, data=data, content_type="multipart/form-data")
            # A body over 500 KB is spooled to a temp file that a 413 leaves unread: close it.
            response.request.environ["wsgi.input"].close()
        else:
            assert ex.method == "GET" and not ex.fields, where
            response = client.get(path)
        assert response.status_code == ex.status, f"{where}: got {response.get_data()[:300]}"
        assert http.HTTPStatus(ex.status).phrase.upper() == ex.reason, where
        assert response.mimetype == "application/json", where
        if ex.method == "POST" and ex.status in (200, 202):
            assert list(response.json) == ["job_id"], where
            matcher.job_id = response.json["job_id"]
            assert uuid.UUID(matcher.job_id).version == 4, where
        matcher.check(ex.body, response.json, where)
    assert matcher.int_values == ["1"], "the 413 example must report MAX_UPLOAD_MB"
    with small.app_context():
        from webapp.extensions import db

        db.engine.dispose()

    # The document covers every route and every status a client must handle.
    routes = {
        re.sub(r"<[^>]+>", "X", rule.rule)
        for rule in sqlite_app.url_map.iter_rules()
        # The page at / is HTML for people; ENDPOINTS.md describes it in prose.
        if rule.endpoint not in ("static", "page.index")
    }
    documented = {re.sub(r"/(<job_id>|[0-9a-f-]{36})$", "/X", ex.path) for ex in exchanges}
    assert routes <= documented, f"routes without an example: {sorted(routes - documented)}"
    statuses = {ex.status for ex in exchanges}
    assert {200, 400, 404, 413} <= statuses
    bodies = [ex.body.get("status") for ex in exchanges]
    assert {"pending", "completed", "failed"} <= set(bodies)


def test_endpoint_matcher_rejects_drift() -> None:
    """The comparison itself must fail on wrong keys, order, values and placeholders."""
    matcher = Matcher()
    matcher.job_id = "7d0c7cc1-26ae-4bb5-9a0c-58e0b1a8c001"
    doc = {"job_id": "<job_id>", "status": "pending", "progress": 0.0, "at": "<iso8601>"}
    good = {
        "job_id": matcher.job_id,
        "status": "pending",
        "progress": 0.0,
        "at": "2026-01-01T00:00:00+00:00",
    }
    matcher.check(doc, good)
    wrong = [
        {**good, "extra": 1},
        dict(reversed(list(good.items()))),
        {**good, "status": "running"},
        {**good, "progress": 0},
        {**good, "job_id": str(uuid.uuid4())},
        {**good, "at": "2026-01-01 00:00:00"},
    ]
    for body in wrong:
        with pytest.raises(AssertionError):
            matcher.check(doc, body)
    with pytest.raises(AssertionError):
        matcher.check({"n": "<number>"}, {"n": True})
    with pytest.raises(AssertionError):
        matcher.check(["<bool>"], [True, False])


# --------------------------------------------------------------------------- PHASE_16_ROLLBACK.md


def rollback_block() -> str:
    blocks = fenced_blocks((NOTES / "PHASE_16_ROLLBACK.md").read_text(encoding="utf-8"), "bash")
    assert len(blocks) == 1, "PHASE_16_ROLLBACK.md must have exactly one ```bash block"
    return blocks[0]


def rollback_paths() -> list[str]:
    match = re.search(r"^PHASE_PATHS=\((.*?)^\)", rollback_block(), re.MULTILINE | re.DOTALL)
    assert match, "the rollback block must list its paths in PHASE_PATHS=( ... )"
    lines = [line.split("#", 1)[0] for line in match.group(1).splitlines()]
    return shlex.split(" ".join(lines))


def downgrade_command() -> list[str]:
    lines = [ln.strip() for ln in rollback_block().splitlines()]
    found = [ln for ln in lines if ln.startswith("alembic downgrade ")]
    assert len(found) == 1, "the rollback block must run `alembic downgrade` exactly once"
    return shlex.split(found[0])


def test_rollback_paths_exist_and_are_this_phases() -> None:
    paths = rollback_paths()
    assert paths, "the rollback removes nothing"
    missing = [p for p in paths if not (REPO / p).exists()]
    assert not missing, f"PHASE_16_ROLLBACK.md removes paths that do not exist: {missing}"
    skeleton = git("ls-tree", "-r", "--name-only", SKELETON_COMMIT).split()
    kept = [p for p in paths for s in skeleton if s == p or s.startswith(p.rstrip("/") + "/")]
    assert not kept, f"the rollback would remove files older than this phase: {kept}"


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def queue_with_a_job() -> Queue | None:
    """An RQ queue of its own holding one job, when the test Redis is up (else None)."""
    connection = Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except RedisError:
        connection.close()
        return None
    queue = Queue(f"rollback_test_{uuid.uuid4().hex[:10]}", connection=connection)
    queue.enqueue("jobs.tasks.process_video_job", str(uuid.uuid4()))
    assert queue.count == 1
    return queue


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(normalise_database_url(url))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.integration
def test_rollback_downgrade_drops_the_jobs_table(empty_postgres: str) -> None:
    command.upgrade(alembic_config(empty_postgres), "head")
    assert "jobs" in table_names(empty_postgres)
    argv = downgrade_command()
    env = {**os.environ, "DATABASE_URL": empty_postgres}
    proc = subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "jobs" not in table_names(empty_postgres)


def copy_of_repository(copy: Path) -> Path:
    """The working tree in a repository of its own, with HEAD's history and an index at HEAD.

    Never a copy of `.git`: in a git worktree that is a file pointing at the shared
    repository, and the block's `git rm --cached` would then empty the real index.
    """
    ignored = {".git", ".venv", "data", "__pycache__", ".pytest_cache", ".ruff_cache"}
    shutil.copytree(REPO, copy, ignore=lambda _d, names: [n for n in names if n in ignored])
    git("init", "-q", cwd=copy)
    git("fetch", "-q", "--no-tags", str(REPO), git("rev-parse", "HEAD").strip(), cwd=copy)
    git("reset", "-q", "FETCH_HEAD", cwd=copy)
    return copy


def test_rollback_block_leaves_exactly_the_skeleton(tmp_path: Path) -> None:
    """Run the whole documented block on a copy of the repository and its own database."""
    copy = copy_of_repository(tmp_path / "repo")
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    command.upgrade(alembic_config(db_url), "head")
    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / f"{uuid.uuid4()}.mp4").write_bytes(b"video")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "STORAGE_DIR": str(storage),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("REDIS_URL", None)
    queue = queue_with_a_job()
    if queue is not None:
        env.update(REDIS_URL=TEST_REDIS_URL, QUEUE_NAME=queue.name)
    try:
        proc = subprocess.run(
            ["bash", "-c", rollback_block()], cwd=copy, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert queue is None or queue.count == 0, "the rollback left jobs in the queue"
    finally:
        if queue is not None:
            queue.delete(delete_jobs=True)
            queue.connection.close()
    assert "jobs" not in table_names(db_url)
    assert not storage.exists()
    remaining = git("ls-files", "--cached", "--others", "--exclude-standard", cwd=copy).split()
    skeleton = git("ls-tree", "-r", "--name-only", SKELETON_COMMIT).split()
    assert sorted(remaining) == sorted(skeleton), (
        "after the rollback these files remain; list them in PHASE_16_ROLLBACK.md's PHASE_PATHS: "
        f"{sorted(set(remaining) - set(skeleton))}"
    )
    for name in skeleton:
        original = git("show", f"{SKELETON_COMMIT}:{name}")
        assert (copy / name).read_text(encoding="utf-8") == original, name


# --------------------------------------------------------------------------- links and names

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def github_slug(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def linked_docs() -> list[Path]:
    readme = REPO / "README.md"
    return [*note_paths(), *([readme] if readme.is_file() else [])]


def relative_links(doc: Path) -> list[str]:
    links = LINK.findall(without_code(doc.read_text(encoding="utf-8")))
    return [t for t in links if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize("doc", linked_docs(), ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    for target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve()
        assert path.exists(), f"{doc.name}: link {target!r} points at nothing"
        assert REPO in path.parents or path == REPO, f"{doc.name}: {target!r} leaves the repo"
        if anchor:
            headings = re.findall(r"^#+\s+(.*)$", path.read_text(encoding="utf-8"), re.M)
            assert anchor in {github_slug(h) for h in headings}, f"{doc.name}: {target!r}"


def test_overview_links_every_note() -> None:
    overview = NOTES / "PHASE_16_OVERVIEW.md"
    targets = {(NOTES / t.partition("#")[0]).resolve() for t in relative_links(overview)}
    unlinked = [p.name for p in note_paths() if p != overview and p.resolve() not in targets]
    assert not unlinked, f"PHASE_16_OVERVIEW.md does not link: {unlinked}"


DOTTED = re.compile(r"`((?:webapp|jobs|pipelines|tools)(?:\.[A-Za-z_]\w*)+)(?:\(\))?`")
REPO_PATH = re.compile(
    r"`((?:webapp|jobs|pipelines|migrations|tools|tests|\.github)/[\w./-]*\.\w+)`"
)


def resolve_dotted(name: str) -> object:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(name)


@pytest.mark.parametrize("doc", note_paths(), ids=lambda p: p.name)
def test_named_code_and_files_exist(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for name in sorted(set(DOTTED.findall(text))):
        try:
            resolve_dotted(name)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"{doc.name} names `{name}`, which does not exist: {exc}")
    for rel in sorted(set(REPO_PATH.findall(text))):
        assert "*" in rel or (REPO / rel).exists(), f"{doc.name} names `{rel}`: no such file"
