"""The governance rules' own names and commands work as written, or map to ours.

* Every row of GOVERNANCE_RULES.md's table resolves: a file exists, a command exits 0 in a
  fresh clone, a workflow step or trigger exists, a pre-commit hook exists; and every name
  the rules' Enforcement, CI Workflow, Pre-Commit and See Also sections give has a row.
* The rules' usage line, `uv run python tools/validate_vovabulary.py`, run verbatim in a
  fresh clone: exit 0 on this tree, 1 with the location of a planted forbidden word.
* pre-commit is offline (every hook local) and, installed in a fresh clone, refuses a
  commit that adds a forbidden word, naming where, and accepts a clean one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
NOTES = REPO / ".ampcode" / "04_PHASE_NOTES" / "Phase_16"
WORKFLOW = REPO / ".github" / "workflows" / "phase16_validation.yml"
PRE_COMMIT_CONFIG = REPO / ".pre-commit-config.yaml"
VENV_BIN = Path(sys.executable).parent
#: Where the governance rules may lie: the shared folder beside this clone (CI) or the team's.
RULES_DIRS = (REPO.parent / "shared" / "seed", Path("/work/shared/seed"))
#: What the rules name in the sections the table must cover, as they spell it (stripped).
RULES_NAMES = {
    "server/tools/validate_vovabulary.py",
    "cd server",
    "uv run python tools/validate_vovabulary.py",
    ".github/workflows/phase16_validation.yml",
    "Pull requests to main",
    "Pushes to main",
    "Validate plugins",
    "Validate pipelines",
    "Validate Phase 16 path (governance check)",
    "Run pytest",
    "Pre-commit: hook fails, blocks commit",
    "Fix violations and re-run pre-commit",
    "PHASE_16_SCOPE.md",
    "PHASE_16_ROLLBACK.md",
    "server/tools/forbidden_vocabulary_phase16.yaml",
    "server/tools/validate_phase16_path.py",
    ".ampcode/04_PHASE_NOTES/Phase_16/PHASE_16_OVERVIEW.md",
    ".ampcode/04_PHASE_NOTES/Phase_16/PHASE_16_ARCHITECTURE.md",
}
PLANTED = '"""Pushes every result to the browser over a WebSocket."""\n'
CLEAN = '"""Answers the browser when it polls."""\n'


@dataclass(frozen=True)
class Row:
    """One row of the mapping table."""

    rules_name: str
    target: str
    kind: str


def plain(cell: str) -> str:
    return re.sub(r"\s+", " ", cell.replace("`", "")).strip()


def mapping_rows() -> list[Row]:
    text = (NOTES / "GOVERNANCE_RULES.md").read_text(encoding="utf-8")
    section = text.split("## The rules' names, mapped", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("the rules name", "---"):
            continue
        first_code = re.search(r"`([^`]+)`", cells[1])
        assert first_code, f"row {cells[0]!r}: the 'here' cell names nothing in backticks"
        rows.append(Row(plain(cells[0]), first_code.group(1), cells[2]))
    return rows


def rules_section_names(text: str) -> set[str]:
    """The names in the rules' Enforcement, CI Workflow, Pre-Commit and See Also sections."""
    names: set[str] = set()
    enforcement = text.split("## Enforcement", 1)[1].split("\n## ", 1)[0]
    see_also = text.split("## See Also", 1)[1].split("\n## ", 1)[0]
    for part in (enforcement, see_also):
        spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", part, flags=re.S))
        names |= {s.strip() for s in spans if re.search(r"[/. ]", s.strip())}
        for block in re.findall(r"```bash\n(.*?)```", part, flags=re.S):
            names |= {line.strip() for line in block.splitlines() if line.strip()}
    for label in ("Triggers", "Steps"):
        block = enforcement.split(f"**{label}**:", 1)[1].split("\n\n**", 1)[0]
        for item in re.findall(r"^(?:-|\d+\.)\s+(.+)$", block, flags=re.M):
            names.add(plain(item))
    if "### Pre-Commit" in text:
        names |= {"Pre-commit: hook fails, blocks commit", "Fix violations and re-run pre-commit"}
    return names


def test_every_name_the_rules_give_has_a_row() -> None:
    rows = mapping_rows()
    mapped = {row.rules_name for row in rows}
    assert len(mapped) == len(rows), "a name is mapped twice"
    assert not RULES_NAMES - mapped, f"unmapped: {sorted(RULES_NAMES - mapped)}"
    for folder in RULES_DIRS:
        for rules in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            named = rules_section_names(rules.read_text(encoding="utf-8"))
            assert named <= RULES_NAMES, f"{rules} names more: {sorted(named - RULES_NAMES)}"


def test_rules_section_names_are_read_from_the_rules_text() -> None:
    """The extraction itself finds files, commands, triggers and steps (so the check can fail)."""
    text = (
        "## Enforcement\n\n**File**: `server/tools/x.py `\n\n```bash\ncd server\nuv run a\n```\n\n"
        "**Exit Codes**:\n- `0`: ok\n\n**Triggers**:\n- Pushes to `main`\n\n"
        "**Steps**:\n1. Validate plugins\n2. Run pytest\n\n**Failure**: no\n\n"
        "## See Also\n\n- `PHASE_16_SCOPE.md` - scope\n"
    )
    assert rules_section_names(text) == {
        "server/tools/x.py",
        "cd server",
        "uv run a",
        "Pushes to main",
        "Validate plugins",
        "Run pytest",
        "PHASE_16_SCOPE.md",
    }


def scratch_clone(dest: Path) -> Path:
    """A fresh clone of this working tree (tracked and new files, nothing ignored), committed."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = REPO / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--no-verify", "-m", "fresh clone")
    return dest


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]
    return subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def shell_env(tmp_path: Path) -> dict[str, str]:
    """A user's shell: this venv's tools (uv, pre-commit) on PATH, no venv active."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env = {k: v for k, v in env.items() if not k.startswith(("UV_PROJECT", "PRE_COMMIT"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    # tools/dev.py in the clone reuses this venv (same requirement files: nothing to install).
    env["VENV_DIR"] = str(Path(sys.prefix))
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield scratch_clone(tmp_path_factory.mktemp("clone"))


def run_shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("row", mapping_rows(), ids=lambda r: r.rules_name)
def test_each_row_resolves(row: Row, clone: Path, tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if row.kind == "file":
        assert (REPO / row.target).is_file(), f"{row.target} does not exist"
    elif row.kind == "folder":
        # the rules' usage line runs there: `cd server` then tools/validate_vovabulary.py
        assert (REPO / row.target / "tools" / "validate_vovabulary.py").is_file()
    elif row.kind == "command":
        proc = run_shell(row.target, clone, shell_env(tmp_path))
        assert proc.returncode == 0, f"{row.target}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    elif row.kind == "trigger":
        # PyYAML reads the bare key `on` as True.
        triggers = workflow.get("on", workflow.get(True))
        assert triggers[row.target]["branches"] == ["main"], triggers
    elif row.kind == "step":
        steps = {s.get("name"): s for job in workflow["jobs"].values() for s in job["steps"]}
        assert row.target in steps, f"no step named {row.target!r}"
        assert re.fullmatch(r"python3 tools/dev\.py check \w+", steps[row.target]["run"])
    elif row.kind == "hook":
        config = yaml.safe_load(PRE_COMMIT_CONFIG.read_text(encoding="utf-8"))
        hooks = {h["id"] for repo in config["repos"] for h in repo["hooks"]}
        assert row.target in hooks
    else:
        pytest.fail(f"unknown kind {row.kind!r}")


def test_workflow_steps_run_in_the_rules_order() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    names = [s.get("name") for job in workflow["jobs"].values() for s in job["steps"]]
    wanted = [
        "Validate plugins",
        "Validate pipelines",
        "Validate Phase 16 path (governance check)",
        "Run pytest",
    ]
    assert [n for n in names if n in wanted] == wanted


def test_rules_usage_line_verbatim_in_a_fresh_clone(tmp_path: Path) -> None:
    repo = scratch_clone(tmp_path / "clone")
    env = shell_env(tmp_path)
    usage = "uv run python tools/validate_vovabulary.py"
    clean = run_shell(usage, repo, env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert (repo / ".venv").is_dir(), "uv run made no project environment"
    (repo / "webapp" / "planted.py").write_text(PLANTED, encoding="utf-8")
    dirty = run_shell(usage, repo, env)
    assert dirty.returncode == 1, dirty.stdout + dirty.stderr
    assert dirty.stdout.startswith("webapp/planted.py:1:"), dirty.stdout
    assert ": websocket: forbidden term 'WebSocket'" in dirty.stdout


def test_pre_commit_hooks_are_all_local_and_offline() -> None:
    config = yaml.safe_load(PRE_COMMIT_CONFIG.read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"] * len(config["repos"])
    hooks = [h for repo in config["repos"] for h in repo["hooks"]]
    assert {h["language"] for h in hooks} <= {"system", "python"}
    assert not [h["id"] for h in hooks if h.get("additional_dependencies")]
    ids = {h["id"] for h in hooks}
    assert {"ruff-check", "ruff-format", "validate-paths", "validate-vocabulary"} <= ids
    assert {"validate-plugins", "validate-pipelines"} <= ids


def test_pre_commit_refuses_a_forbidden_word_and_accepts_a_clean_commit(tmp_path: Path) -> None:
    repo = scratch_clone(tmp_path / "clone")
    env = shell_env(tmp_path)
    installed = run_shell("pre-commit install", repo, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    planted = repo / "webapp" / "planted.py"
    planted.write_text(PLANTED, encoding="utf-8")
    git(repo, "add", "webapp/planted.py")
    refused = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-m", "x"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "Validate vocabulary (forbidden concepts)" in output
    assert "webapp/planted.py:1:" in output and "websocket" in output, output
    assert git(repo, "log", "--format=%s").stdout.split("\n")[0] == "fresh clone"

    planted.write_text(CLEAN, encoding="utf-8")
    git(repo, "add", "webapp/planted.py")
    accepted = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-m", "y"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Passed" in accepted.stdout + accepted.stderr
    assert git(repo, "log", "--format=%s").stdout.split("\n")[0] == "y"
