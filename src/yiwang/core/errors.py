"""Domain errors that the web layer turns into precise HTTP answers.

Services raise these with a translatable message; ``core.web`` renders them as JSON for
``/api`` callers and as a Chinese error page for browsers. Denials are audited there.
"""

from __future__ import annotations

from typing import Any


class YiwangError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.detail = detail


class BadRequest(YiwangError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(YiwangError):
    status_code = 401
    code = "not_authenticated"


class AccessDenied(YiwangError):
    """The caller is known but lacks the permission or the record is outside their data scope."""

    status_code = 403
    code = "forbidden"


class NotFound(YiwangError):
    status_code = 404
    code = "not_found"


class Conflict(YiwangError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(YiwangError):
    status_code = 413
    code = "payload_too_large"


class Invalid(YiwangError):
    """Input that parsed but breaks a rule (field-level)."""

    status_code = 422
    code = "invalid"


class TooManyRequests(YiwangError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, **detail: Any) -> None:
        super().__init__(message, **detail)
        self.retry_after = retry_after
