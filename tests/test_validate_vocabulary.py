"""Tests for tools/validate_vocabulary.py."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools import validate_vocabulary as vv
from tools.validator_common import repo_root

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = vv.load_config(vv.DEFAULT_CONFIG)


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create files (str as utf-8 text, bytes verbatim) under root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def write_config(tmp_path: Path, **overrides: object) -> Path:
    """Write a copy of the real yaml with top-level keys overridden."""
    data = yaml.safe_load(vv.DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data.update(overrides)
    path = tmp_path / "vocab.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def hits(line: str) -> list[tuple[str, int, str]]:
    """Return (rule, 1-based col, matched text) for one line under the real config."""
    return [(r.name, s + 1, line[s:e]) for r, s, e in vv.find_matches(line, CONFIG.rules)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = vv.main(list(argv))
    return code, capsys.readouterr().out.splitlines()


CLEAN_FILES = {
    "webapp/app.py": (
        '"""Upload a video and poll the job status."""\n'
        "def stream_file(upstream, asset):\n"
        "    iter_stream = classes = assessment = Lasse = None\n"
        "    return send_file(asset)  # assess the real timeout\n"
    ),
    "webapp/templates/index.html": "<p>Poll /jobs/&lt;id&gt; every few seconds.</p>\n",
    "webapp/static/app.js": "fetch('/jobs').then(r => r.json());\n",
    "jobs/worker.py": "MULTIPHASE = 'stream'\n",
    "pipelines/definitions/detect.yaml": "name: detect\nsteps: [decode, classify]\n",
}


def test_clean_tree_passes_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, CLEAN_FILES)
    assert run(capsys, "--path", str(tmp_path)) == (0, [])


@pytest.mark.parametrize(
    ("rel", "content", "expected"),
    [
        ("webapp/ws.py", "import os\nfrom flask_sock import Sock\n", "2:6: websocket"),
        ("webapp/ws.js", "const s = new WebSocket(url);\n", "1:15: websocket"),
        ("webapp/events.py", "\n\n    return sse_response()\n", "3:12: sse"),
        ("webapp/static/poll.js", "const es = new EventSource('/e');\n", "1:16: sse"),
        ("webapp/views.py", 'mimetype = "text/event-stream"\n', "1:18: sse"),
        ("jobs/run.py", "class StreamingResponse:\n", "1:7: streaming"),
        ("jobs/run.py", "# this is REAL_TIME\n", "1:11: realtime"),
        ("jobs/notes.md", "Shows per-frame progress.\n", "1:11: frame-progress"),
        ("jobs/tasks.py", "queue = gpu_queue()\n", "1:9: gpu-scheduling"),
        ("jobs/lock.py", "from redis import Redlock\n", "1:19: distributed-workers"),
        ("pipelines/run.py", "def compose_pipelines(a, b):\n", "1:5: multi-pipeline"),
        ("pipelines/x.toml", "mode = 'multi-pipeline'\n", "1:9: multi-pipeline"),
    ],
)
def test_each_rule_reports_exact_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rel: str, content: str, expected: str
) -> None:
    write_tree(tmp_path, {**CLEAN_FILES, rel: content})
    code, out = run(capsys, "--path", str(tmp_path))
    assert code == 1
    assert len(out) == 1
    assert out[0].startswith(f"{rel}:{expected}: forbidden term ")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        *[(t, "sse") for t in ["sse", "SSE", "_sse", "sse_handler", "SSE_EVENTS", "send_sse"]],
        *[(t, "sse") for t in ["SSEHandler", "EventSource", "event_source"]],
        *[(t, "sse") for t in ["server-sent events", "ServerSentEvents", "server_sent_event"]],
        *[(t, "streaming") for t in ["streaming", "Streaming", "STREAMING_RESPONSE"]],
        *[(t, "streaming") for t in ["isStreaming", "stream_with_context"]],
        *[(t, "realtime") for t in ["realtime", "RealTime", "realTime", "REAL_TIME"]],
        *[(t, "realtime") for t in ["real-time", "real time", "real_time", "Real Time"]],
        *[(t, "websocket") for t in ["websocket", "WebSocket", "web_socket", "websockets"]],
        *[(t, "websocket") for t in ["WEBSOCKETS", "SocketIO"]],
        *[(t, "frame-progress") for t in ["frame-level progress", "frame_progress"]],
        *[(t, "frame-progress") for t in ["per-frame progress", "progress per frame"]],
        *[(t, "frame-progress") for t in ["frameProgress", "FRAME_LEVEL_PROGRESS"]],
        *[(t, "gpu-scheduling") for t in ["gpu_schedule", "GPU scheduling", "gpu_worker"]],
        *[(t, "gpu-scheduling") for t in ["GPUWorker", "GPU queue", "gpuScheduler"]],
        *[(t, "distributed-workers") for t in ["distributed_lock", "distributed locks"]],
        *[(t, "distributed-workers") for t in ["DistributedWorker", "redlock", "RedLock"]],
        *[(t, "multi-pipeline") for t in ["multi_pipeline", "multi-pipeline", "MultiPipeline"]],
        *[(t, "multi-pipeline") for t in ["pipeline orchestration", "pipeline composition"]],
        *[(t, "multi-pipeline") for t in ["compose pipelines", "PipelineOrchestrator"]],
    ],
)
def test_forbidden_spellings_are_reported(text: str, rule: str) -> None:
    found = hits(f"x = {text} + 1")
    assert [r for r, _, _ in found] == [rule]
    _, col, matched = found[0]
    # The hit lies inside the spelling (e.g. `sse` at col 6 of `_sse`), never outside it.
    assert text[col - 5 :].startswith(matched)
    assert col >= 5


@pytest.mark.parametrize(
    ("text", "col", "matched"),
    [
        ("_sse", 6, "sse"),
        ("send_sse", 10, "sse"),
        ("SSEHandler", 5, "SSE"),
        ("isStreaming", 7, "Streaming"),
        ("STREAMING_RESPONSE", 5, "STREAMING"),
        ("per-frame progress", 9, "frame progress"),
    ],
)
def test_hit_column_is_the_term_start(text: str, col: int, matched: str) -> None:
    assert [(c, m) for _, c, m in hits(f"x = {text} + 1")] == [(col, matched)]


@pytest.mark.parametrize(
    "text",
    [
        *["asset", "assess", "classes", "assessment", "Lasse", "ASSET_URL", "passes"],
        *["stream", "upstream", "iter_stream", "stream_file", "Stream", "streams", "downstream"],
        *["real timeout", "real, time", "time_real", "surreal time", "realtimes"],
        *["socket", "web_app", "event", "source_event", "events source_id"],
        *["frame", "progress", "frame_count; progress", "frames processed"],
        *["gpu", "worker", "queue", "distributed", "lock", "pipeline", "pipelines"],
        *["compose", "multiphase", "orchestra"],
        # S3 server-side encryption and chunked storage transfers are not the concepts.
        *["SSE-S3", "sse_kms", "SSECustomerKey", "s3_sse", "StreamingBody"],
    ],
)
def test_allowed_words_do_not_match(text: str) -> None:
    assert hits(f"x = {text} + 1") == []


def test_normalise_maps_words_back_to_original_columns() -> None:
    norm, index = vv.normalise("  getHTTPServer_v2(x)")
    assert norm == "get http server v 2 / x"
    starts = [index[m.start()] for m in re.finditer(r"\w+", norm)]
    assert starts == [2, 5, 9, 16, 17, 19]


def test_multiple_hits_on_one_line_and_overlaps_counted_once() -> None:
    line = "use SSE or a WebSocket, per-frame progress for each frame progress"
    assert hits(line) == [
        ("websocket", 14, "WebSocket"),
        ("sse", 5, "SSE"),
        ("frame-progress", 29, "frame progress"),  # "progress for each frame" overlaps
        ("frame-progress", 53, "frame progress"),
    ]


def test_crlf_line_endings_keep_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"webapp/a.py": b"ok = 1\r\n\tx = realtime\r\n"})
    assert run(capsys, "--path", str(tmp_path)) == (1, [f"webapp/a.py:2:6: realtime: {_msg()}"])


def _msg() -> str:
    rule = next(r for r in CONFIG.rules if r.name == "realtime")
    return f"forbidden term 'realtime': {rule.message}"


def test_unscanned_locations_and_files_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(
        tmp_path,
        {
            "tools/x.py": "websocket\n",
            "tests/test_x.py": "websocket\n",
            "docs/x.md": "websocket\n",
            "webapp/__pycache__/x.py": "websocket\n",
            "webapp/node_modules/x.js": "websocket\n",
            "webapp/img.png": b"websocket",
            "webapp/blob.py": b"\x00\x01websocket\n",
            "webapp/Makefile": "websocket\n",
        },
    )
    assert run(capsys, "--path", str(tmp_path)) == (0, [])


def test_scan_paths_in_yaml_add_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"migrations/001.py": "x\nrealtime\n", "webapp/a.py": "sse\n"})
    config = write_config(tmp_path, scan_paths=["migrations"])
    code, out = run(capsys, "--path", str(tmp_path), "--config", str(config))
    assert code == 1
    assert [o.split(": forbidden")[0] for o in out] == [
        "migrations/001.py:2:1: realtime",
        "webapp/a.py:1:1: sse",
    ]


def test_allow_and_exclude_in_yaml_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(
        tmp_path,
        {
            "webapp/a.py": "sse realtime\n",
            "webapp/vendor/lib.js": "new WebSocket()\n",
            "jobs/b.py": "x = 'sse'  # vocabulary: allow sse  noqa\n",
        },
    )
    config = write_config(
        tmp_path,
        allow=[{"rule": "sse", "paths": ["webapp/a.py"]}],
        exclude_paths=["webapp/vendor"],
    )
    code, out = run(capsys, "--path", str(tmp_path), "--config", str(config))
    assert code == 1
    assert [o.split(": forbidden")[0] for o in out] == [
        "jobs/b.py:1:6: sse",
        "jobs/b.py:1:32: sse",
        "webapp/a.py:1:5: realtime",
    ]


MINIMAL = "extensions: [.py]\nrules:\n  r:\n    message: m\n    patterns: [x]\n"


def test_minimal_config_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text(MINIMAL, encoding="utf-8")
    assert vv.main(["--path", str(tmp_path), "--config", str(config)]) == 0


@pytest.mark.parametrize(
    ("yaml_text", "reason"),
    [
        ("rules: [unclosed\n", "not valid yaml"),
        ("- just a list\n", "must be a mapping"),
        ("extensions: [.py]\nrules: {}\n", "non-empty mapping"),
        (MINIMAL.replace("[x]", "['(']"), "invalid regex"),
        (MINIMAL.replace("[x]", "[]"), "no patterns"),
        (MINIMAL + "allow: [{rule: nope, paths: [a]}]\n", "unknown rule"),
        (MINIMAL + "typo_key: 1\n", "unknown keys"),
        (MINIMAL + "scan_paths: ['../up']\n", "relative"),
        (MINIMAL.replace("[.py]", "[py]"), "extensions"),
    ],
)
def test_malformed_config_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str, reason: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    assert vv.main(["--path", str(tmp_path), "--config", str(config)]) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--bogus"], ["--path"], ["--path", "/no/such/dir"], ["--config", "/no/such.yaml"], ["x"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert vv.main(argv) == 2
    assert capsys.readouterr().out == ""


def test_path_that_is_a_file_is_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "f.py"
    target.write_text("x\n", encoding="utf-8")
    assert vv.main(["--path", str(target)]) == 2


def test_real_repository_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert repo_root() == REPO_ROOT
    code = vv.main([])
    assert code == 0, capsys.readouterr().out


def test_script_mode_from_repo_root(tmp_path: Path) -> None:
    write_tree(tmp_path, {**CLEAN_FILES, "jobs/x.py": "a\nb = 'RealTime'\n"})
    cmd = [sys.executable, "tools/validate_vocabulary.py", "--path", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("jobs/x.py:2:6: realtime: ")
    (tmp_path / "jobs/x.py").unlink()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (0, "")
