"""requirements*.txt (what pip and Heroku read), pyproject.toml and uv.lock say the same.

When this fails after editing a requirements file, run `python3 tools/dev.py lock`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools import dependencies

REPO = Path(__file__).resolve().parent.parent
FILES = ("pyproject.toml", "uv.lock", *dependencies.SOURCES)
UV = Path(sys.executable).parent / "uv"


def copy_project(dest: Path) -> Path:
    dest.mkdir()
    for name in FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def uv_lock_check(project: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`uv lock --check --offline` with an empty cache: no network, nothing remembered."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")
    return subprocess.run(
        [str(UV), "lock", "--check", "--offline"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_requirements_pyproject_and_lock_agree() -> None:
    found = dependencies.problems(REPO)
    assert not found, "\n".join([*found, f"fix: {dependencies.REGENERATE}"])


def test_uv_lock_names_pypi_only() -> None:
    """Locked against PyPI alone: no local index or wheel folder of one machine leaks in."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    sources = {tuple(sorted(p["source"].items())) for p in lock["package"]}
    assert sources == {(("registry", "https://pypi.org/simple"),), (("virtual", "."),)}


def test_uv_lock_is_current_for_pyproject(tmp_path: Path) -> None:
    proc = uv_lock_check(copy_project(tmp_path / "project"), tmp_path)
    assert proc.returncode == 0, f"{proc.stderr}\nfix: {dependencies.REGENERATE}"


def test_pyproject_is_exactly_what_lock_would_write() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert dependencies.render_pyproject(text, dependencies.wanted_lists(REPO)) == text


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            "requirements.txt",
            "rq==3.0.0",
            "rq==3.0.1",
            "requirements.txt has rq==3.0.1; pyproject.toml [project] dependencies does not",
        ),
        (
            "requirements-dev.txt",
            "pytest==9.2.0",
            "pytest==9.1.0",
            "requirements-dev.txt pins pytest==9.1.0; uv.lock has 9.2.0",
        ),
        (
            "pyproject.toml",
            '"ruff==0.17.6",',
            '"ruff==0.17.6",\n    "pytest-timeout==2.4.0",',
            "pyproject.toml [dependency-groups] dev has pytest-timeout==2.4.0; "
            "requirements-dev.txt does not",
        ),
    ],
)
def test_a_disagreement_is_reported(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    project = copy_project(tmp_path / "project")
    edit(project / file, old, new)
    assert expected in dependencies.problems(project)


def test_lock_mirrors_a_new_requirements_file_and_a_stale_lock_is_caught(
    tmp_path: Path,
) -> None:
    """A new requirements-models.txt: pyproject.toml gets its group; uv.lock must follow."""
    project = copy_project(tmp_path / "project")
    (project / "requirements-models.txt").unlink(missing_ok=True)
    assert dependencies.write_pyproject(project) is ((REPO / "requirements-models.txt").is_file())
    (project / "requirements-models.txt").write_text(
        "# optional\n-r requirements.txt\nqrcode==8.2  # QR codes\n", encoding="utf-8"
    )
    assert (
        "requirements-models.txt has qrcode==8.2; pyproject.toml [dependency-groups] models "
        "does not" in dependencies.problems(project)
    )
    assert dependencies.write_pyproject(project)
    assert '\nmodels = [\n    "qrcode==8.2",\n]\n' in (project / "pyproject.toml").read_text()
    found = dependencies.problems(project)
    assert "uv.lock was locked for another [dependency-groups] models" in found
    assert "requirements-models.txt pins qrcode==8.2; uv.lock does not have it" in found
    assert uv_lock_check(project, tmp_path).returncode != 0
    assert not dependencies.write_pyproject(project), "a second run changes nothing"


def test_requirement_lines_are_parsed_like_pip() -> None:
    req = dependencies.parse_requirement("Flask_SQLAlchemy[async, dev] == 3.1.1")
    assert (req.name, req.extras, req.specifier) == (
        "flask-sqlalchemy",
        ("async", "dev"),
        "==3.1.1",
    )
    assert req.pinned_version == "3.1.1"
    assert dependencies.parse_requirement("numpy>=2").pinned_version is None
