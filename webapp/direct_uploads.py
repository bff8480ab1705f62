"""Uploads straight to S3: a presigned POST for a key of the service's choosing, checked later.

Big files then never pass through the web process or the platform's router; the client
submits the ``upload_id`` instead of the file and the service checks the object (size,
``ftyp`` signature) before it creates the job's row.
"""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from webapp.storage import ObjectNotFound, Storage
from webapp.storage_s3 import S3Storage
from webapp.uploads import brand_problem, is_iso_bmff

#: How long a presigned upload stays usable.
PRESIGN_SECONDS = 3600


def _s3(storage: Storage) -> S3Storage:
    if not isinstance(storage, S3Storage):
        raise BadRequest(
            "direct uploads need S3 storage (STORAGE_URL=s3://...); "
            "send the video as the 'file' field of /video/submit instead"
        )
    return storage


def presign(storage: Storage, upload_id: uuid.UUID, key: str, max_bytes: int) -> dict[str, Any]:
    """A presigned POST for ``key``, limited by S3 itself to ``max_bytes``."""
    s3 = _s3(storage)
    full_key = s3.prefix + "/" + key if s3.prefix else key
    with s3._translate("presign", key):
        post = s3.client.generate_presigned_post(
            Bucket=s3.bucket,
            Key=full_key,
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=PRESIGN_SECONDS,
        )
    return {
        "upload_id": str(upload_id),
        "method": "POST",
        "url": post["url"],
        "fields": post["fields"],
        "file_field": "file",
        "expires_in": PRESIGN_SECONDS,
        "max_bytes": max_bytes,
    }


def check_uploaded(storage: Storage, key: str, upload_id: uuid.UUID, max_bytes: int) -> None:
    """The object must exist, fit the limit and start like an MP4; a bad one is deleted."""
    s3 = _s3(storage)
    try:
        head = b"".join(s3.open_range(key, 0, 12))
    except ObjectNotFound:
        raise BadRequest(
            f"no upload {upload_id}: POST the file to the presigned URL first, then submit"
        ) from None
    with s3._translate("head", key):
        size = s3.client.head_object(Bucket=s3.bucket, Key=s3._full_key(key))["ContentLength"]
    if size > max_bytes:
        s3.delete(key)
        raise RequestEntityTooLarge(f"the upload is larger than the {max_bytes // 2**20} MB limit")
    problem = (
        "the uploaded file is not an MP4/MOV video (no 'ftyp' box at its start)"
        if not is_iso_bmff(head)
        else brand_problem(head)
    )
    if problem:
        s3.delete(key)
        raise BadRequest(problem)
