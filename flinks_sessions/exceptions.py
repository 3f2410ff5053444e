"""The app's errors: what Flinks or the way to it did (:class:`FlinksError`), and what the site's settings say.

Every failure of a call to Flinks is a :class:`FlinksError`, whatever ``requests`` raised underneath, so a
caller that catches it has caught every way a call can fail. A configuration error is not one of them: it is
an :class:`~django.core.exceptions.ImproperlyConfigured` (:class:`FlinksConfigurationError`), which the system
checks report and which no sweep records against a session as if Flinks had failed.

Each error also inherits from the Django, ``requests`` or builtin error it resembles, so a site's existing
``except ImproperlyConfigured`` or ``except requests.RequestException`` keeps working. Messages carry Flinks'
own words and the HTTP status, never a token or a secret.
"""

from __future__ import annotations

import requests
from django.core.exceptions import ImproperlyConfigured


class FlinksError(Exception):
    """Base class of every error raised by flinks_sessions."""


class FlinksConfigurationError(ImproperlyConfigured):
    """``FLINKS_SESSIONS`` is missing something or holds a value of the wrong shape (not a Flinks failure)."""


class FlinksRequestError(FlinksError, requests.RequestException):
    """The request could not be sent at all (an invalid URL or header): nothing reached Flinks."""


class FlinksAPIError(FlinksError, requests.HTTPError):
    """Flinks answered with an error status.

    ``status_code`` is the HTTP status, ``message`` Flinks' own explanation (ProblemDetails ``detail``/``title``,
    OAuth-style ``error_description`` or a plain-text body), ``code`` its machine code when it sent one.
    """

    def __init__(self, message: str, *, status_code: int | None = None, code: str = "") -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        super().__init__(f"Flinks answered {status_code}: {message}" if status_code else message)


class FlinksAuthError(FlinksAPIError):
    """The credentials were refused, or a fresh token was refused again (401)."""


class FlinksPermissionError(FlinksAPIError):
    """403: the token is valid but the product or the operation is not enabled for this client."""


class FlinksBadRequest(FlinksAPIError):
    """400 for a reason other than an already-terminal session: the request itself is wrong."""


class FlinksNotFound(FlinksAPIError):
    """404: Flinks does not know this session (for this client)."""


class FlinksAlreadyTerminal(FlinksBadRequest):
    """400 on cancel: the session already ended upstream ("Session … cannot be Cancelled")."""


class FlinksUnavailable(FlinksAPIError):
    """A transient failure that outlived the retries: network error, timeout, 429 or 5xx.

    ``ambiguous`` is true when the request may have reached Flinks and had an effect (a session creation that
    timed out after sending): such a failure must be reconciled, not retried blindly.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str = "", ambiguous: bool = False
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.ambiguous = ambiguous


class WebhookPayloadError(FlinksError, ValueError):
    """A webhook body is not the JSON envelope Flinks documents."""


class RestartError(FlinksError):
    """A session could not be restarted (``services.restart_session``); nothing was created at Flinks."""


class RestartRefused(RestartError, ValueError):
    """The restart was asked wrongly: the session stores no payor details and none was given."""
