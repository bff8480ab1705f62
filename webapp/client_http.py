"""The HTTP side of the command-line client: standard-library urllib only, JSON in and out.

Kept apart from the commands so that it can talk to any deployment without the app,
its database or its queue: the client knows nothing but the server's URL and a token.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin
from urllib.request import Request, urlopen

DEFAULT_SERVER = "http://127.0.0.1:5000"
CHUNK = 256 * 1024
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?')


class ApiError(Exception):
    """The server answered with an error, or could not be reached (status 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class Answer:
    """One HTTP answer: status, headers and the parsed JSON body (None for a 304)."""

    status: int
    headers: dict[str, str]
    body: Any = None

    def retry_after(self) -> float | None:
        """Seconds the server asks the client to wait (Retry-After), if it said."""
        return parse_retry_after(self.headers.get("retry-after"))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds, from either of its two forms; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def next_link(link_header: str | None) -> str | None:
    """The target of an RFC 8288 ``rel="next"`` link, when the server pages its answer."""
    match = _NEXT_LINK.search(link_header or "")
    return match.group(1) if match else None


def _detail(status: int, raw: bytes) -> str:
    try:
        detail = json.loads(raw).get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str) and detail:
        return detail
    return f"the server answered HTTP {status}"


@dataclass
class VideoApi:
    """A client of one deployment's ``/video`` API."""

    server: str = DEFAULT_SERVER
    token: str | None = None
    timeout: float = 30.0
    etags: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """An absolute URL on the server for ``path`` (absolute URLs pass through)."""
        return urljoin(self.server.rstrip("/") + "/", path.lstrip("/"))

    def request(
        self,
        method: str,
        path: str,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request; raise ApiError with the server's ``detail`` on any error."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        request = Request(self.url(path), data=data, headers=all_headers, method=method)
        try:
            with urlopen(request, timeout=timeout or self.timeout) as response:
                raw = response.read()
                answer_headers = {k.lower(): v for k, v in response.headers.items()}
                status = response.status
        except HTTPError as exc:
            with exc:
                if exc.code == 304:
                    return Answer(304, {k.lower(): v for k, v in exc.headers.items()})
                raw = exc.read()
            detail = _detail(exc.code, raw)
            if exc.code == 401 and not self.token:
                detail += " (pass --token or set VIDEO_API_TOKEN)"
            raise ApiError(exc.code, detail) from None
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(0, f"cannot reach {self.server}: {reason}") from None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(status, f"the server answered HTTP {status} without JSON") from None
        return Answer(status, answer_headers, body)

    def pipelines(self) -> dict[str, Any]:
        """GET /video/pipelines."""
        return self.request("GET", "/video/pipelines").body

    def status(self, job_id: str) -> Answer:
        """GET /video/status/<id>, revalidating with the last ETag (a 304 means unchanged)."""
        path = f"/video/status/{job_id}"
        headers = {"If-None-Match": self.etags[path]} if path in self.etags else {}
        answer = self.request("GET", path, headers=headers)
        if answer.headers.get("etag"):
            self.etags[path] = answer.headers["etag"]
        return answer

    def results(self, job_id: str) -> dict[str, Any]:
        """GET /video/results/<id>, following ``rel="next"`` pages into one document."""
        answer = self.request("GET", f"/video/results/{job_id}")
        document = dict(answer.body)
        frames = list(document["results"])
        link = next_link(answer.headers.get("link"))
        while link:
            answer = self.request("GET", link)
            frames.extend(answer.body["results"])
            link = next_link(answer.headers.get("link"))
        document["results"] = frames
        return document

    def submit(
        self,
        video: Path,
        fields: dict[str, str],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """POST the video as multipart, reading it in chunks; return the new job id."""
        boundary = f"video-jobs-{uuid.uuid4().hex}"
        head = io.BytesIO()
        for name, value in fields.items():
            head.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        filename = video.name.replace('"', "_")
        content_type = mimetypes.guess_type(video.name)[0] or "application/octet-stream"
        head.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        )
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = video.stat().st_size
        total = len(head.getvalue()) + size + len(tail)

        def body() -> Iterator[bytes]:
            sent = 0
            for piece in _pieces(head.getvalue(), video, tail):
                yield piece
                sent += len(piece)
                if on_progress:
                    on_progress(sent, total)

        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(total),
        }
        answer = self.request("POST", "/video/submit", body(), headers, timeout=600)
        return answer.body["job_id"]


def _pieces(head: bytes, video: Path, tail: bytes) -> Iterator[bytes]:
    yield head
    with video.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk
    yield tail


def results_csv(frames: list[dict[str, Any]]) -> str:
    """frame_index, timestamp_ms, then every result key; nested values as JSON in a cell."""
    keys: dict[str, None] = {}
    for frame in frames:
        keys.update(dict.fromkeys(k for k in frame.get("result", {}) if k != "timestamp_ms"))
    columns = ["frame_index", "timestamp_ms", *keys]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for frame in frames:
        result = frame.get("result", {})
        row = [frame.get("frame_index"), *(result.get(c) for c in columns[1:])]
        writer.writerow(
            "" if v is None else json.dumps(v) if isinstance(v, dict | list | bool) else v
            for v in row
        )
    return out.getvalue()
