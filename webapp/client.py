"""The command-line client: submit, status, results and pipelines over HTTP, nothing else.

    flask --app webapp video submit clip.mp4 --wait      # the Flask way, in this repository
    python -m webapp.client submit clip.mp4 --wait        # the same commands without the app

Exit codes: 0 done (a waited-for job completed), 1 the job failed, 3 the server refused
the request or could not be reached, 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import functools
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from webapp.client_http import DEFAULT_SERVER, ApiError, VideoApi, results_csv

EXIT_FAILED, EXIT_SERVER, EXIT_INTERRUPTED = 1, 3, 130
SPINNER = "|/-\\"
FINAL = {"completed", "failed"}


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def client_command(func: Callable[..., Any]) -> click.Command:
    """A click command with --server and --token that turns server errors into one line."""

    @click.option(
        "--server",
        envvar="VIDEO_API_URL",
        default=DEFAULT_SERVER,
        show_default=True,
        help="Base URL of the deployment (or VIDEO_API_URL).",
    )
    @click.option("--token", envvar="VIDEO_API_TOKEN", help="API token (or VIDEO_API_TOKEN).")
    @functools.wraps(func)
    def wrapper(server: str, token: str | None, **kwargs: Any) -> None:
        api = VideoApi(server=server, token=token or None)
        try:
            func(api, **kwargs)
        except ApiError as exc:
            where = f"HTTP {exc.status}: " if exc.status else ""
            _fail(f"{where}{exc.detail}", EXIT_SERVER)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return click.command(func.__name__.replace("_command", ""))(wrapper)


def _status_line(body: dict[str, Any]) -> str:
    line = f"{body['job_id']}  {body['status']}"
    if body.get("progress") is not None:
        line += f"  {round(100 * body['progress'])}%"
    return line


class Spinner:
    """One status line on a terminal, rewritten in place; plain lines when not a terminal."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.frames = itertools.cycle(SPINNER)
        self.last, self.key = "", ""

    def show(self, text: str, key: str = "") -> None:
        """Redraw the line (terminal), or print it when ``key`` changed (a log file, CI)."""
        if self.tty:
            click.echo(f"\r{next(self.frames)} {text}\033[K", err=True, nl=False)
        elif key != self.key:
            click.echo(text, err=True)
        self.last, self.key = text, key

    def done(self) -> None:
        """End the line so that what follows starts on its own."""
        if self.tty and self.last:
            click.echo("\r\033[K", err=True, nl=False)


def wait_for(api: VideoApi, job_id: str, interval: float = 0.5) -> dict[str, Any]:
    """Check the status until the job ends, every 0.5-2 s or as Retry-After says.

    A server that is down or answers 5xx for a while (a deploy) is waited for, backing off
    up to 30 s; any other error ends the wait.
    """
    spinner, started = Spinner(), time.monotonic()
    body: dict[str, Any] = {"status": "checking"}
    next_check, delay, outages, note = 0.0, interval, 0, ""
    try:
        while True:
            now = time.monotonic()
            if now >= next_check:
                try:
                    answer = api.status(job_id)
                except ApiError as exc:
                    if exc.status and exc.status < 500:
                        raise
                    outages += 1
                    delay = min(30.0, 2.0**outages)
                    note = f"  ({exc.detail}; trying again in {delay:.0f} s)"
                else:
                    outages, note = 0, ""
                    if answer.status != 304:  # 304: unchanged since the last check
                        body = answer.body
                    if body["status"] in FINAL:
                        return body
                    wait = answer.retry_after()
                    delay = min(2.0, delay * 1.5) if wait is None else min(30.0, max(0.5, wait))
                next_check = now + delay
            elapsed = time.monotonic() - started
            spinner.show(f"{body['status']}  {elapsed:.1f} s elapsed{note}", body["status"] + note)
            time.sleep(0.1)
    finally:
        spinner.done()


@client_command
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pipeline", help="Pipeline id (default: the server's default).")
@click.option("--stride", type=click.IntRange(min=1), help="Analyse every Nth frame (default 1).")
@click.option(
    "--max-frames", type=click.IntRange(min=1), help="Stop after this many analysed frames."
)
@click.option("--wait", is_flag=True, help="Follow the job; exit 0 if completed, 1 if failed.")
def submit_command(
    api: VideoApi,
    file: Path,
    pipeline: str | None,
    stride: int | None,
    max_frames: int | None,
    wait: bool,
) -> None:
    """Upload FILE and print the new job id; with --wait, follow it until it ends."""
    fields = {"pipeline_id": pipeline} if pipeline else {}
    if stride is not None:
        fields["frame_stride"] = str(stride)
    if max_frames is not None:
        fields["max_frames"] = str(max_frames)
    spinner = Spinner()

    def progress(sent: int, total: int) -> None:
        if spinner.tty:
            spinner.show(f"uploading {sent / 1e6:.1f} of {total / 1e6:.1f} MB", "uploading")

    try:
        job_id = api.submit(file, fields, progress)
    finally:
        spinner.done()
    click.echo(job_id)
    if wait:
        started = time.monotonic()
        body = wait_for(api, job_id)
        took = f"after {time.monotonic() - started:.1f} s"
        if body["status"] == "failed":
            message = body.get("error_message") or "no message recorded"
            click.echo(f"failed {took}: {message}", err=True)
            sys.exit(EXIT_FAILED)
        click.echo(f"completed {took}; fetch the results with `results {job_id}`", err=True)


@client_command
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the server's JSON.")
@click.option("--wait", is_flag=True, help="Follow the job until it ends.")
def status_command(api: VideoApi, job_id: str, as_json: bool, wait: bool) -> None:
    """Print a job's status (and its error message if it failed)."""
    body = wait_for(api, job_id) if wait else api.status(job_id).body
    if as_json:
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(_status_line(body))
        click.echo(f"created {body['created_at']}  updated {body['updated_at']}")
    if body["status"] == "failed":
        if not as_json:
            click.echo(f"error: {body.get('error_message')}")
        sys.exit(EXIT_FAILED)


@client_command
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per frame, not JSON.")
def results_command(api: VideoApi, job_id: str, output: Path | None, as_csv: bool) -> None:
    """Fetch a completed job's per-frame results as JSON (or CSV) to stdout or a file."""
    document = api.results(job_id)
    text = results_csv(document["results"]) if as_csv else json.dumps(document, indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8", newline="")
    click.echo(f"wrote {len(document['results'])} frames to {output}", err=True)


@client_command
@click.option("--json", "as_json", is_flag=True, help="Print the server's JSON.")
def pipelines_command(api: VideoApi, as_json: bool) -> None:
    """List the pipelines this server runs; the default is marked with *."""
    body = api.pipelines()
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    for pipeline in body["pipelines"]:
        mark = "*" if pipeline["pipeline_id"] == body.get("default_pipeline_id") else " "
        line = f"{mark} {pipeline['pipeline_id']:<16} {pipeline.get('description', '')}"
        if pipeline.get("available") is False:
            line += f" [unavailable: {pipeline.get('unavailable_reason', '')}]"
        click.echo(line)


CLIENT_COMMANDS = [submit_command, status_command, results_command, pipelines_command]


@click.group(help=__doc__.split("\n\n")[0])
def main() -> None:
    """The client as a program of its own: ``python -m webapp.client``."""


for _command in CLIENT_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main()
