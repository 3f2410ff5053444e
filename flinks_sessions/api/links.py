"""A session's links: the hosted page (told its parent's origin) and the four browser endpoints, with its token.

Built here once, for the checkout tag (which renders them as ``data-`` attributes) and for the Start again
endpoint (which answers them as JSON, so the page swaps in the successor without a reload). No Django REST
framework here: the template tag imports this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from django.urls import reverse

from flinks_sessions.api.tokens import exit_token


@dataclass(frozen=True)
class SessionLinks:
    """Everything a page needs to show one session and to wire its exit, resume, status and Start again."""

    session_id: str
    hosted_url: str
    token: str
    exit_url: str
    resume_url: str
    status_url: str
    restart_url: str

    def as_json(self) -> dict[str, str]:
        """The same, in the camelCase ``checkout.js`` reads (``sessionId``, ``hostedUrl``, ``exitUrl``...)."""
        return {_camel(name): value for name, value in asdict(self).items()}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def site_origin(request: Any) -> str:
    """``scheme://host[:port]`` of the page that embeds the hosted flow, or ``""`` without a request."""
    return f"{request.scheme}://{request.get_host()}" if request is not None else ""


def session_links(session: Any, *, parent_origin: str = "") -> SessionLinks:
    """The links of ``session``; ``parent_origin`` (the embedding page's origin) goes on the hosted URL."""
    kwargs = {"session_id": session.session_id}
    hosted_url = session.hosted_url()
    if parent_origin:
        hosted_url += "&parentOrigin=" + quote(parent_origin, safe="")
    return SessionLinks(
        session_id=str(session.session_id),
        hosted_url=hosted_url,
        token=exit_token(session),
        exit_url=reverse("flinks_sessions:session-exit", kwargs=kwargs),
        resume_url=reverse("flinks_sessions:session-resume", kwargs=kwargs),
        status_url=reverse("flinks_sessions:session-status", kwargs=kwargs),
        restart_url=reverse("flinks_sessions:session-restart", kwargs=kwargs),
    )
