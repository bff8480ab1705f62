#!/usr/bin/env bash
# Smoke test of a running video job service: submit a short MP4, poll its status until it
# completes, fetch its results and check every response's shape; also check two errors.
#
#   tools/smoke_test.sh BASE_URL            e.g. tools/smoke_test.sh http://127.0.0.1:5000
#
# Environment:
#   PYTHON         the Python with imageio-ffmpeg installed (default: the repo's
#                  .venv/bin/python if present, else python3); it also parses the JSON
#                  responses, so jq is not needed
#   SMOKE_TIMEOUT  seconds to wait for the job to complete (default: 60)
# Exit codes: 0 every check passed, 1 a check failed, 2 usage error.
set -euo pipefail

usage() {
    echo "usage: $0 BASE_URL   (e.g. $0 http://127.0.0.1:5000)" >&2
    exit 2
}
[[ $# -eq 1 && -n "$1" ]] || usage

BASE_URL="${1%/}"
REPO_VENV_PYTHON="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
if [[ -z "${PYTHON:-}" && -x "$REPO_VENV_PYTHON" ]]; then
    PYTHON="$REPO_VENV_PYTHON"
fi
PY="${PYTHON:-python3}"
TIMEOUT="${SMOKE_TIMEOUT:-60}"
STEP=0.5
PASSED=0

WORK="$(mktemp -d "${TMPDIR:-/tmp}/smoke-test.XXXXXX")"
trap 'rm -rf -- "$WORK"' EXIT

ok() {
    PASSED=$((PASSED + 1))
    echo "ok   - $1"
}

fail() {
    echo "FAIL - $1"
    echo "FAIL: smoke test of $BASE_URL failed after $PASSED passed check(s)"
    exit 1
}

# check MODE FILE [ARG]: validate a saved JSON response with Python; print the reason and
# exit non-zero when it deviates, print the extracted value (if any) when it conforms.
check() {
    "$PY" - "$@" <<'PYTHON'
import json
import re
import sys

mode, path, arg = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else "")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def bad(reason):
    print(reason)
    sys.exit(1)


raw = open(path, encoding="utf-8", errors="replace").read()
try:
    body = json.loads(raw)
except ValueError:
    bad(f"not JSON: {raw[:200]!r}")
if not isinstance(body, dict):
    bad(f"not a JSON object: {raw[:200]!r}")

if mode == "submit":
    if list(body) != ["job_id"]:
        bad(f"expected exactly the key job_id, got {sorted(body)}: {raw[:200]}")
    if not isinstance(body["job_id"], str) or not UUID.fullmatch(body["job_id"]):
        bad(f"job_id is not a UUID: {body['job_id']!r}")
    print(body["job_id"])
elif mode == "status":
    if body.get("job_id") != arg:
        bad(f"status is for job {body.get('job_id')!r}, not {arg}: {raw[:200]}")
    status = body.get("status")
    if status not in ("pending", "running", "completed", "failed"):
        bad(f"unknown status {status!r}: {raw[:200]}")
    if status == "failed":
        bad(f"the job failed: {body.get('error_message')!r}")
    print(status)
elif mode == "results":
    keys = sorted(body)
    if keys != ["created_at", "job_id", "results", "updated_at"]:
        bad(f"expected keys created_at, job_id, results, updated_at; got {keys}")
    if body["job_id"] != arg:
        bad(f"results are for job {body['job_id']!r}, not {arg}")
    results = body["results"]
    if not isinstance(results, list) or len(results) != 5:
        bad(f"expected a list of 5 frame results, got {raw[:300]}")
    for i, item in enumerate(results):
        if not isinstance(item, dict) or sorted(item) != ["frame_index", "result"]:
            bad(f"results[{i}] is not {{frame_index, result}}: {item!r}"[:300])
        result = item["result"]
        stamp = result.get("timestamp_ms") if isinstance(result, dict) else None
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
            bad(f"results[{i}].result has no numeric timestamp_ms: {result!r}"[:300])
    indices = [item["frame_index"] for item in results]
    if indices != [0, 2, 4, 6, 8]:
        bad(f"expected frame_index 0, 2, 4, 6, 8 (stride 2), got {indices}")
elif mode == "error":
    if list(body) != ["detail"] or not isinstance(body["detail"], str) or not body["detail"]:
        bad(f"expected exactly {{\"detail\": \"...\"}}, got {raw[:200]}")
    print(body["detail"])
else:
    bad(f"unknown check mode {mode!r}")
PYTHON
}

# request NAME CURL_ARGS...: run curl, save the body to $WORK/NAME.json, print the HTTP code
# (000 when curl got no answer at all; its error is on stderr).
request() {
    local name="$1"
    shift
    : >"$WORK/$name.json"
    curl -sS --max-time 30 -o "$WORK/$name.json" -w '%{http_code}' "$@" || true
}

echo "smoke test of $BASE_URL"

# 1. A one-second 30 fps MP4 made with the ffmpeg that the imageio-ffmpeg wheel ships.
FFMPEG="$("$PY" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')" ||
    fail "cannot find ffmpeg: is imageio-ffmpeg installed for $PY?"
VIDEO="$WORK/smoke.mp4"
"$FFMPEG" -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=128x96:rate=30" -t 1 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$VIDEO" ||
    fail "ffmpeg could not make the test video"
ok "made a 30-frame test video"

# 2. Submit it: 202 Accepted and exactly {"job_id": "<uuid>"}.
code="$(request submit -F "file=@$VIDEO;type=video/mp4" -F pipeline_id=frame_stats \
    -F frame_stride=2 -F max_frames=5 "$BASE_URL/video/submit")"
[[ "$code" == 202 ]] || fail "submit: expected HTTP 202, got $code: $(head -c 300 "$WORK/submit.json")"
JOB_ID="$(check submit "$WORK/submit.json")" || fail "submit: $JOB_ID"
ok "submit answered {\"job_id\": \"$JOB_ID\"}"

# 3. Poll its status until it completes (bounded).
deadline=$((SECONDS + TIMEOUT))
while :; do
    code="$(request status "$BASE_URL/video/status/$JOB_ID")"
    [[ "$code" == 200 ]] || fail "status: expected HTTP 200, got $code: $(head -c 300 "$WORK/status.json")"
    status="$(check status "$WORK/status.json" "$JOB_ID")" || fail "status: $status"
    [[ "$status" == completed ]] && break
    ((SECONDS < deadline)) || fail "status: job $JOB_ID still $status after ${TIMEOUT}s"
    sleep "$STEP"
done
ok "job completed"

# 4. Results: keys, 5 frames at stride 2, each with a timestamp.
code="$(request results "$BASE_URL/video/results/$JOB_ID")"
[[ "$code" == 200 ]] || fail "results: expected HTTP 200, got $code: $(head -c 300 "$WORK/results.json")"
reason="$(check results "$WORK/results.json" "$JOB_ID")" || fail "results: $reason"
ok "results have 5 frames (0, 2, 4, 6, 8) with timestamp_ms"

# 5. A file that is not an MP4 is refused with 400 and a JSON detail.
printf 'this is not a video\n' >"$WORK/not-a-video.txt"
code="$(request reject -F "file=@$WORK/not-a-video.txt" -F pipeline_id=frame_stats \
    "$BASE_URL/video/submit")"
[[ "$code" == 400 ]] || fail "non-MP4 upload: expected HTTP 400, got $code: $(head -c 300 "$WORK/reject.json")"
detail="$(check error "$WORK/reject.json")" || fail "non-MP4 upload: $detail"
ok "non-MP4 upload refused: 400 $detail"

# 6. An unknown job id is 404 with a JSON detail.
code="$(request unknown "$BASE_URL/video/status/00000000-0000-4000-8000-000000000000")"
[[ "$code" == 404 ]] || fail "unknown job: expected HTTP 404, got $code: $(head -c 300 "$WORK/unknown.json")"
detail="$(check error "$WORK/unknown.json")" || fail "unknown job: $detail"
ok "unknown job id: 404 $detail"

echo "PASS: all $PASSED checks passed against $BASE_URL"
