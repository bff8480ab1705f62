"""One entry point for people, CI and the workflow: set up, serve, and run every check.

    python3 tools/dev.py serve      # venv + install + migrate + run on embedded defaults
    python3 tools/dev.py test       # venv + install + the four checks below, in order
    python3 tools/dev.py check plugins|pipelines|governance|tests   # one check
    python3 tools/dev.py lock       # after editing requirements*.txt: pyproject.toml + uv.lock
    python3 tools/dev.py run ARGS   # the venv's python with ARGS (pre-commit's hooks use it)

Uses only the standard library, so it runs on a machine that has nothing but Python.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("VENV_DIR", REPO / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

CHECKS: dict[str, list[list[str]]] = {
    "plugins": [["tools/validate_plugins.py"]],
    "pipelines": [["tools/validate_pipelines.py"]],
    "governance": [["tools/validate_paths.py"], ["tools/validate_vocabulary.py"]],
    "tests": [["-m", "pytest"]],
}


def ensure_venv(requirements: str) -> None:
    """Create the virtual environment and install ``requirements`` unless already done."""
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256()
    for name in ("requirements.txt", "requirements-models.txt", requirements):
        wanted.update((REPO / name).read_bytes())
    stamp = VENV / f".installed-{Path(requirements).stem}"
    if stamp.exists() and stamp.read_text() == wanted.hexdigest():
        return
    if subprocess.run([str(PYTHON), "-c", "import pip"], capture_output=True).returncode:
        # a .venv made by `uv run` / `uv sync` has no pip of its own
        subprocess.run([str(PYTHON), "-m", "ensurepip", "-q"], check=True)
    print(f"installing {requirements}", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(REPO / requirements)], check=True)
    stamp.write_text(wanted.hexdigest())


def run(args: list[str], env: dict[str, str] | None = None) -> int:
    """Run the venv's Python with ``args`` from the repo root; return its exit code."""
    print("$ python " + " ".join(args), flush=True)
    return subprocess.run([str(PYTHON), *args], cwd=REPO, env=env).returncode


def check(name: str) -> int:
    """Run one named check; non-zero on the first failure."""
    for args in CHECKS[name]:
        code = run(args)
        if code != 0:
            print(f"check {name!r} failed (exit {code})", file=sys.stderr)
            return code
    return 0


def serve() -> int:
    """Migrate the embedded SQLite database and serve on $PORT (default 5000)."""
    ensure_venv("requirements.txt")
    code = run(["-m", "alembic", "upgrade", "head"])
    if code:
        return code
    port = os.environ.get("PORT", "5000")
    return run(
        [
            "-m",
            "flask",
            "--app",
            "webapp:create_app",
            "run",
            "--port",
            port,
            "--host",
            os.environ.get("HOST", "127.0.0.1"),
        ]
    )


def lock() -> int:
    """Mirror requirements*.txt into pyproject.toml, then bring uv.lock up to date with uv."""
    ensure_venv("requirements-dev.txt")
    sys.path.insert(0, str(REPO))
    from tools.dependencies import write_pyproject

    if write_pyproject():
        print("pyproject.toml: dependency lists rewritten from requirements*.txt", flush=True)
    print("$ uv lock", flush=True)
    return subprocess.run([str(BIN / "uv"), "lock"], cwd=REPO).returncode


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``serve``, ``test``, ``check NAME``, ``lock`` or ``run ARGS``."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["serve"]:
        return serve()
    if args == ["test"]:
        ensure_venv("requirements-dev.txt")
        for name in CHECKS:
            code = check(name)
            if code:
                return code
        return 0
    if args == ["lock"]:
        return lock()
    if len(args) >= 2 and args[0] == "run":
        ensure_venv("requirements-dev.txt")
        return subprocess.run([str(PYTHON), *args[1:]], cwd=REPO).returncode
    if len(args) == 2 and args[0] == "check" and args[1] in CHECKS:
        ensure_venv("requirements-dev.txt")
        return check(args[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
