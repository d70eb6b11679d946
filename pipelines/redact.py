"""Credentials never leave the process: URLs are redacted before they are written anywhere.

`redact_url` masks a URL's userinfo (``user:pass@``) and the value of every query parameter
named in `settings.SECRET_QUERY_PARAMETERS`; `redact_text` does the same to every URL or
``name=value`` pair inside free text (error messages quote URLs, e.g. requests'
"Max retries exceeded with url: /f?sig=..."). Both are idempotent.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pipelines.settings import SECRET_QUERY_PARAMETERS

MASK = "***"

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"<>]*@")
_SECRET_PARAM = re.compile(
    r"(?P<lead>(?:^|[?&;\s'\"(,])(?:"
    + "|".join(re.escape(name) for name in SECRET_QUERY_PARAMETERS)
    + r")=)[^&;#\s'\"<>),]*",
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    """`text` with userinfo and secret query-parameter values masked."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m['lead']}{MASK}", text)


def redact_url(url: str | None) -> str | None:
    """`url` with its userinfo and secret query-parameter values masked (None stays None)."""
    return None if url is None else redact_text(url)


def url_credentials(url: str) -> str | None:
    """Why `url` may not be given as a location (it carries credentials), or None."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return "it holds a user name or password (user:pass@host)"
    if redact_text(url) != url:
        return "it holds a credential in its query string"
    return None
