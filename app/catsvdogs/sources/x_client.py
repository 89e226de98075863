"""The X API v2 client for the filtered stream: tweepy's StreamingClient on a configurable host, and the bearer token.

tweepy 4.17 fixes the host: ``BaseClient.request`` builds every REST URL from
``https://api.twitter.com`` and ``StreamingClient._connect`` the stream URL.
XApiClient overrides both in a subclass, so X_API_URL can name another server,
such as a local fake one in the tests, with no change to tweepy's module state.
``request`` is public, ``_connect`` is not, so the tweepy version is pinned
below 5. The override of ``request`` also drops tweepy's DEBUG line, which
prints the request headers with the bearer token.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
import tweepy
from tweepy.streaming import BaseStream

LOG = logging.getLogger(__name__)

DEFAULT_X_API_URL = "https://api.x.com"
TOKEN_VARIABLE = "X_BEARER_TOKEN"
TOKEN_FILE_VARIABLE = "X_BEARER_TOKEN_FILE"
API_URL_VARIABLE = "X_API_URL"

# Fields and expansions that give the transform created_at, lang, hashtags,
# public metrics and the author's username.
TWEET_FIELDS = ("created_at", "lang", "author_id", "public_metrics", "entities")
EXPANSIONS = ("author_id",)
USER_FIELDS = ("username",)

DEFAULT_REQUEST_TIMEOUT = 30.0
MAX_ERROR_BODY_BYTES = 64 * 1024

# A bearer token is a single header value: printable ASCII without spaces.
_TOKEN_PATTERN = re.compile(r"[\x21-\x7e]+")


class CredentialsError(ValueError):
    """The bearer token is missing, unreadable or malformed; the message never contains the token."""


class XApiError(Exception):
    """An X API request that failed, with a message that gives the status and the fix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def load_bearer_token(environ: Mapping[str, str] | None = None) -> str:
    """Read the bearer token from X_BEARER_TOKEN, or from the file named by X_BEARER_TOKEN_FILE.

    Raises CredentialsError when neither is set, both are set, the file cannot
    be read, or the token is not one header value.
    """
    env = os.environ if environ is None else environ
    value = env.get(TOKEN_VARIABLE, "").strip()
    file_name = env.get(TOKEN_FILE_VARIABLE, "").strip()
    if value and file_name:
        raise CredentialsError(f"both {TOKEN_VARIABLE} and {TOKEN_FILE_VARIABLE} are set; unset one of them")
    if file_name:
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except FileNotFoundError as error:
            raise CredentialsError(f"{TOKEN_FILE_VARIABLE}: file {file_name} not found") from error
        except (OSError, UnicodeDecodeError) as error:
            raise CredentialsError(f"{TOKEN_FILE_VARIABLE}: cannot read {file_name}: {type(error).__name__}") from error
        if not value:
            raise CredentialsError(f"{TOKEN_FILE_VARIABLE}: file {file_name} is empty")
    if not value:
        raise CredentialsError(
            f"no X bearer token: set {TOKEN_VARIABLE}, or {TOKEN_FILE_VARIABLE} to a file that contains it "
            "(the token is on the app's Keys and tokens page in the X developer console)"
        )
    if not _TOKEN_PATTERN.fullmatch(value):
        raise CredentialsError(
            f"the X bearer token is malformed: it must be one line of printable ASCII without spaces; "
            f"check {TOKEN_FILE_VARIABLE if file_name else TOKEN_VARIABLE}"
        )
    return value


def load_api_url(environ: Mapping[str, str] | None = None) -> str:
    """Return X_API_URL without a trailing slash, or the public X API."""
    env = os.environ if environ is None else environ
    return (env.get(API_URL_VARIABLE, "").strip() or DEFAULT_X_API_URL).rstrip("/")


def stream_parameters(backfill_minutes: int | None = None) -> dict[str, str]:
    """Return the query parameters of the filtered stream: fields, expansions and an optional backfill."""
    params = {
        "tweet.fields": ",".join(TWEET_FIELDS),
        "expansions": ",".join(EXPANSIONS),
        "user.fields": ",".join(USER_FIELDS),
    }
    if backfill_minutes:
        params["backfill_minutes"] = str(backfill_minutes)
    return params


def summarize_error_body(body: str) -> str:
    """Return the title, detail and reason of an X API error body, or the start of a body that is not JSON."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return body.strip()[:300]
    if not isinstance(document, dict):
        return body.strip()[:300]
    errors = document.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else document
    parts: list[str] = []
    for key in ("title", "detail", "reason"):
        value = first.get(key)
        if value and str(value) not in parts:
            parts.append(str(value))
    return "; ".join(parts)[:600] or body.strip()[:300]


def describe_http_error(status: int, body: str, action: str) -> str:
    """Describe a failed request with its status and the server's reason, plus the fix for 401 and 403."""
    summary = summarize_error_body(body)
    reason = f": {summary}" if summary else ""
    if status == 401:
        return (
            f"{action} failed: HTTP 401 Unauthorized{reason}. The bearer token is invalid or revoked: "
            f"copy the app's current bearer token from the X developer console into {TOKEN_VARIABLE} "
            f"or the file named by {TOKEN_FILE_VARIABLE}"
        )
    if status == 403:
        return (
            f"{action} failed: HTTP 403 Forbidden{reason}. The app has no access to the filtered stream: "
            "in the X developer console, attach the app to a project on a plan that includes the filtered "
            "stream (pay-per-use with credit, or a legacy Basic or Pro plan), then retry with that app's bearer token"
        )
    return f"{action} failed: HTTP {status}{reason}"


def redact(text: str, secret: str) -> str:
    """Replace every occurrence of ``secret`` in ``text``, in case a server echoes it back."""
    return text.replace(secret, "[redacted]") if secret else text


class XApiClient(tweepy.StreamingClient):
    """tweepy's StreamingClient with the host taken from ``api_url`` and no header logging.

    The rule methods (``get_rules``, ``add_rules``, ``delete_rules``) and
    ``filter`` work as in tweepy. ``open_stream`` opens one filtered-stream
    connection for XStream, which handles reconnects itself.
    """

    def __init__(self, bearer_token: str, *, api_url: str = DEFAULT_X_API_URL, timeout: float = DEFAULT_REQUEST_TIMEOUT):
        super().__init__(bearer_token, return_type=tweepy.Response, wait_on_rate_limit=False)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"XApiClient(api_url={self.api_url!r})"

    def stream_url(self, endpoint: str = "search") -> str:
        return f"{self.api_url}/2/tweets/{endpoint}/stream"

    def _headers(self) -> dict[str, str]:
        return {"User-Agent": self.user_agent, "Authorization": f"Bearer {self.bearer_token}"}

    def request(self, method: str, route: str, params: Any = None, json: Any = None, user_auth: bool = False):
        """Send one REST request to ``api_url`` + ``route``; raise XApiError for a status other than 2xx."""
        if user_auth:
            raise XApiError("user-context authentication is not supported; catsvdogs uses the app's bearer token")
        url = self.api_url + route
        LOG.debug("X API request: %s %s", method, url)
        try:
            response = self.session.request(
                method, url, params=params, json=json, headers=self._headers(), timeout=self.timeout
            )
        except requests.RequestException as error:
            message = redact(f"{method} {url} failed: {type(error).__name__}: {error}", self.bearer_token)
            raise XApiError(message) from None
        with response:
            LOG.debug("X API response: %s %s", response.status_code, response.reason)
            if not 200 <= response.status_code < 300:
                body = redact(response.text[:MAX_ERROR_BODY_BYTES], self.bearer_token)
                message = describe_http_error(response.status_code, body, f"{method} {route}")
                raise XApiError(message, response.status_code)
            return response

    def _make_request(self, *args: Any, **kwargs: Any):
        try:
            return super()._make_request(*args, **kwargs)
        except (requests.JSONDecodeError, AttributeError, TypeError, KeyError) as error:
            raise XApiError(f"the X API sent a response that is not the expected JSON: {type(error).__name__}") from None

    def open_stream(self, params: Mapping[str, str], *, connect_timeout: float, stall_timeout: float) -> requests.Response:
        """Open one filtered-stream connection; ``stall_timeout`` is the longest wait for the next bytes.

        The connection is always a new one. A stream that ended with its last
        chunk goes back to requests' pool even though the server closes it
        next, and a request sent on it fails with no response.
        """
        self.session.close()
        return self.session.get(
            self.stream_url(),
            params=dict(params),
            headers=self._headers(),
            timeout=(connect_timeout, stall_timeout),
            stream=True,
        )

    def _connect(self, method: str, endpoint: str, **kwargs: Any) -> None:
        # Used only by tweepy's own filter() and sample(): the same loop as tweepy, on api_url.
        self.session.headers["Authorization"] = f"Bearer {self.bearer_token}"
        BaseStream._connect(self, method, self.stream_url(endpoint), **kwargs)
