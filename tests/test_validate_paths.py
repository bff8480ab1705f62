"""Tests for tools/validate_paths.py."""

import subprocess
import sys
from pathlib import Path

import pytest

from tools import validate_paths as vp

REPO_ROOT = Path(__file__).resolve().parent.parent


def make_tree(root: Path, entries: list[str]) -> Path:
    """Create entries under root: names ending in '/' are folders, others empty files."""
    for rel in entries:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = vp.main(list(argv))
    return code, capsys.readouterr().out.splitlines()


CLEAN = [
    "README.md",
    "webapp/phases.py",
    "webapp/templates/index.html",
    "jobs/worker.py",
    "pipelines/multiphase.py",
    "pipelines/definitions/detect.yaml",
    "migrations/versions/0001_create_jobs.py",
    "tools/validate_paths.py",
    "tests/test_phases.py",
    "bench/throughput.py",
    "docs/phases_overview.txt",
    ".ampcode/04_PHASE_NOTES/README.md",
    ".ampcode/04_PHASE_NOTES/Phase_16/phase16_plan.md",
    ".ampcode/04_PHASE_NOTES/Phase_16/PHASE16_REVIEW.md",
    ".ampcode/04_PHASE_NOTES/Phase_16/phase_16_assets/diagram.txt",
    ".ampcode/04_PHASE_NOTES/Phase_3/",
    ".github/workflows/phase16_validation.yml",
]


def test_clean_tree_passes_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(tmp_path, CLEAN)
    assert run(capsys, "--path", str(tmp_path)) == (0, [])


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("webapp/phase16_x.py", "webapp/phase16_x.py:1:1: phase-named-path"),
        ("jobs/phase_16/", "jobs/phase_16:1:1: phase-named-path"),
        ("pipelines/Phase16Notes.txt", "pipelines/Phase16Notes.txt:1:1: phase-named-path"),
        ("bench/phase-16.py", "bench/phase-16.py:1:1: phase-named-path"),
        ("migrations/PHASE16.sql", "migrations/PHASE16.sql:1:1: phase-named-path"),
        ("tools/phase16", "tools/phase16:1:1: phase-named-path"),
        ("tests/test_phase16.py", "tests/test_phase16.py:1:1: phase-named-path"),
        ("webapp/phase 2.md", "webapp/phase 2.md:1:1: phase-named-path"),
        ("tests/phase16/", "tests/phase16:1:1: phase-test-folder"),
        ("tests/test_phase16/", "tests/test_phase16:1:1: phase-test-folder"),
        ("tests/unit/Phase_3/", "tests/unit/Phase_3:1:1: phase-test-folder"),
        ("docs/phase16_plan.md", "docs/phase16_plan.md:1:1: phase-doc-location"),
        ("PHASE_NOTES.md", "PHASE_NOTES.md:1:1: phase-doc-location"),
        ("webapp/phase_overview.md", "webapp/phase_overview.md:1:1: phase-doc-location"),
        (".ampcode/phase16/", ".ampcode/phase16:1:1: phase-doc-location"),
        (".ci/phase16.sh", ".ci/phase16.sh:1:1: phase-doc-location"),
        (".github/phase16.md", ".github/phase16.md:1:1: phase-doc-location"),
        (".github/workflows/phase16/", ".github/workflows/phase16:1:1: phase-doc-location"),
        (
            ".github/workflows/ci/phase16.yml",
            ".github/workflows/ci/phase16.yml:1:1: phase-doc-location",
        ),
        (
            ".ampcode/04_PHASE_NOTES/phase16_plan.md",
            ".ampcode/04_PHASE_NOTES/phase16_plan.md:1:1: phase-doc-location",
        ),
        (".ampcode/04_PHASE_NOTES/Notes/", ".ampcode/04_PHASE_NOTES/Notes:1:1: phase-notes-folder"),
        (
            ".ampcode/04_PHASE_NOTES/Phase16/",
            ".ampcode/04_PHASE_NOTES/Phase16:1:1: phase-notes-folder",
        ),
        (
            ".ampcode/04_PHASE_NOTES/phase_16/",
            ".ampcode/04_PHASE_NOTES/phase_16:1:1: phase-notes-folder",
        ),
    ],
)
def test_each_violation_reports_exact_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, expected: str
) -> None:
    make_tree(tmp_path, [*CLEAN, entry])
    code, out = run(capsys, "--path", str(tmp_path))
    assert code == 1
    assert len(out) == 1
    rule = expected.rsplit(": ", 1)[1]
    assert out[0] == f"{expected}: {vp.MESSAGES[rule]}"


@pytest.mark.parametrize(
    "name",
    ["phase16_x.py", "phase_16", "Phase16Notes", "phase-16", "PHASE16", "phase 7", "Phase_3"],
)
def test_phase_numbered_names(name: str) -> None:
    assert vp.is_phase_named(name)


@pytest.mark.parametrize("name", ["phases.py", "multiphase", "phase", "PHASE_NOTES", "phase_x1"])
def test_names_without_phase_number(name: str) -> None:
    assert not vp.is_phase_named(name)


def test_violations_are_sorted_and_children_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_tree(tmp_path, ["webapp/phase1/phase2.py", "jobs/a/phase3.py"])
    code, out = run(capsys, "--path", str(tmp_path))
    assert code == 1
    assert [line.split(": ")[0] for line in out] == [
        "jobs/a/phase3.py:1:1",
        "webapp/phase1:1:1",
        "webapp/phase1/phase2.py:1:1",
    ]


def test_ignored_folders_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(
        tmp_path,
        [
            ".git/phase16.md",
            ".venv/lib/phase1.py",
            "node_modules/phase2/",
            "data/phase3.md",
            "webapp/__pycache__/phase16.cpython-311.pyc",
            ".pytest_cache/phase4",
            ".ruff_cache/phase5",
        ],
    )
    assert run(capsys, "--path", str(tmp_path)) == (0, [])


@pytest.mark.parametrize("argv", [["--bogus"], ["--path"], ["--path", "/no/such/dir"], ["x"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert vp.main(argv) == 2
    assert capsys.readouterr().out == ""


def test_path_that_is_a_file_is_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "f.py"
    target.touch()
    assert vp.main(["--path", str(target)]) == 2


def test_real_repository_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code = vp.main([])
    assert code == 0, capsys.readouterr().out


def test_script_mode_from_repo_root(tmp_path: Path) -> None:
    make_tree(tmp_path, ["webapp/phase9.py"])
    cmd = [sys.executable, "tools/validate_paths.py", "--path", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("webapp/phase9.py:1:1: phase-named-path: ")
