"""One error tree; every error leaves the hub as a TAXII 2.1 error resource."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """An error a client may see: a title, an HTTP status and a description a person understands."""

    http_status = 400
    title = "Bad request"

    def __init__(
        self, description: str = "", *, title: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(description or self.title)
        self.description = description
        if title is not None:
            self.title = title
        self.headers = headers or {}

    def resource(self) -> dict[str, Any]:
        """The TAXII 2.1 error resource (section 3.6.1)."""
        body: dict[str, Any] = {"title": self.title, "http_status": str(self.http_status)}
        if self.description:
            body["description"] = self.description
        return body


class BadRequest(HubError):
    """400: the request is malformed (bad filter, forged token, wrong JSON shape)."""


class Unauthorized(HubError):
    """401: no credentials, or credentials that do not authenticate."""

    http_status = 401
    title = "Unauthorized"

    def __init__(
        self,
        description: str = "Send an API key as 'Authorization: Bearer <key>' or as the "
        "password of HTTP Basic authentication.",
    ):
        # Basic is accepted but not offered: a challenge naming it makes a browser ask for a password and
        # then send it with every request, also with forms other sites post (docs/operating.md,
        # "Cross-site requests")
        super().__init__(description, headers={"WWW-Authenticate": 'Bearer realm="hub"'})


class Forbidden(HubError):
    """403: authenticated, but not allowed to do this here."""

    http_status = 403
    title = "Forbidden"


class NotFound(HubError):
    """404: no such resource, or one the caller may not know exists."""

    http_status = 404
    title = "Not found"


class Conflict(HubError):
    """409: the request clashes with the stored state (a duplicate slug, a redeemed invitation)."""

    http_status = 409
    title = "Conflict"


class Unprocessable(HubError):
    """422: well-formed, but a value breaks a rule (a clearance above max_tlp, an expiry in the past)."""

    http_status = 422
    title = "Unprocessable request"


class NotAcceptable(HubError):
    """406: the Accept header names no media type the hub serves."""

    http_status = 406
    title = "Not acceptable"


class PayloadTooLarge(HubError):
    """413: the body is over the configured limit."""

    http_status = 413
    title = "Payload too large"


class TooManyRequests(HubError):
    """429: the caller must slow down; `Retry-After` says for how many seconds."""

    http_status = 429
    title = "Too many requests"

    def __init__(self, description: str, *, retry_after: int):
        super().__init__(description, headers={"Retry-After": str(retry_after)})


class ClientGone(HubError):
    """The client closed the connection before its request was read; the answer reaches no one."""

    http_status = 400
    title = "Incomplete request"

    def __init__(self) -> None:
        super().__init__("The connection closed before the request body was complete.")


class UnsupportedMediaType(HubError):
    """415: the Content-Type is not the TAXII media type."""

    http_status = 415
    title = "Unsupported media type"


class ConfigError(Exception):
    """Invalid configuration: names the file, the path inside it and what is wrong."""

    def __init__(self, file: str, path: str, problem: str, more: list[tuple[str, str]] | None = None):
        # `more`: further (path, problem) pairs, so one run reports every mistake in the file
        lines = [f"{file}: {p}: {m}" for p, m in [(path, problem), *(more or [])]]
        super().__init__("\n".join(lines))
        self.file, self.path, self.problem = file, path, problem
        self.more = list(more or [])
