"""Optional bearer tokens (API_TOKENS): who may call /video/*, and whose jobs they may see."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized


def token_fingerprint(token: str) -> str:
    """What the database keeps of a token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def _matching_token(presented: str, tokens: tuple[str, ...]) -> str | None:
    """Compare against every configured token in constant time, so timing reveals nothing."""
    found = None
    for token in tokens:
        if hmac.compare_digest(presented.encode(), token.encode()):
            found = token
    return found


def authenticate() -> None:
    """Before each /video/* request: with API_TOKENS set, demand a valid bearer token."""
    tokens: tuple[str, ...] = current_app.config.get("API_TOKENS") or ()
    g.owner = None
    if not tokens or request.method == "OPTIONS":
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    token = _matching_token(presented.strip(), tokens) if scheme.lower() == "bearer" else None
    if token is None:
        raise Unauthorized(
            "send a valid API token: Authorization: Bearer <token>",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "video jobs"}),
        )
    g.owner = token_fingerprint(token)


def current_owner() -> str | None:
    """The fingerprint of the token of this request, or None when the service is open."""
    return g.get("owner")
