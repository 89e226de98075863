"""Import the dashboard's saved objects into OpenSearch Dashboards and make it the landing page.

Readiness: while it starts, Dashboards responds to every request, ``/api/status``
included, with 503. Once it is up, the default body of ``GET /api/status``
has ``status.overall.state``, which is ``"green"`` when every core service
and plugin is available (OpenSearch Dashboards 2.19; with ``?v8format=true``
the same fact is ``status.overall.level == "available"``, which is accepted
too).

The import uses ``overwrite=true`` and the objects have fixed ids, so running
it again replaces each object instead of adding a copy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import requests

from catsvdogs.dashboards.panels import DASHBOARD_ID, INDEX_PATTERN_ID

LOG = logging.getLogger(__name__)

SAVED_OBJECTS_RESOURCE = "saved_objects.ndjson"
# Dashboards rejects state-changing requests without this header (cross-site request forgery protection).
XSRF_HEADERS = {"osd-xsrf": "true"}
STATUS_PATH = "/api/status"
IMPORT_PATH = "/api/saved_objects/_import"
SETTINGS_PATH = "/api/opensearch-dashboards/settings"

DEFAULT_TIMEOUT = 300.0
DEFAULT_POLL_INTERVAL = 2.0
REQUEST_TIMEOUT = 30.0
WAIT_LOG_INTERVAL = 30.0
# Status codes that mean "not up yet": Dashboards sends 503 while it starts, and a proxy may send 502 or 504.
RETRY_STATUS_CODES = frozenset({502, 503, 504})


class DashboardsError(RuntimeError):
    """Dashboards was not ready in time or rejected a request. The message names the URL and the reason."""


@dataclass(frozen=True)
class ImportSummary:
    """The result of one import: the Dashboards version, the objects written and the settings made."""

    version: str
    imported: int
    default_index: str
    default_route: str


def saved_objects() -> bytes:
    """Return the packaged saved objects, one JSON object a line."""
    return resources.files("catsvdogs.dashboards").joinpath(SAVED_OBJECTS_RESOURCE).read_bytes()


def landing_route(dashboard_id: str = DASHBOARD_ID) -> str:
    """Return the Dashboards path that opens ``dashboard_id``, the value of the defaultRoute setting."""
    return f"/app/dashboards#/view/{dashboard_id}"


def is_ready(status: dict[str, Any]) -> bool:
    """Tell whether a ``/api/status`` body reports every service available, in either response format."""
    overall = status.get("status", {}).get("overall", {})
    return overall.get("state") == "green" or overall.get("level") == "available"


def describe_status(status: dict[str, Any]) -> str:
    overall = status.get("status", {}).get("overall", {})
    return f"overall state {overall.get('state') or overall.get('level') or 'missing'}"


class DashboardsClient:
    """HTTP calls to one Dashboards server, each retried on 502, 503, 504 and connection errors until a deadline."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        poll_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.poll_interval = DEFAULT_POLL_INTERVAL if poll_interval is None else poll_interval
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + DEFAULT_TIMEOUT
        self.timeout = DEFAULT_TIMEOUT

    def start_deadline(self, timeout: float) -> None:
        """Give every later call, waits and retries included, ``timeout`` seconds from now."""
        self.timeout = timeout
        self.deadline = self.clock() + timeout

    def wait_until_ready(self) -> str:
        """Poll ``/api/status`` until Dashboards reports ready; return its version number."""
        attempts = 0
        last_logged = self.clock()
        LOG.info("Waiting for OpenSearch Dashboards at %s to report ready", self.base_url)
        while True:
            attempts += 1
            state = self._poll_status()
            if isinstance(state, dict):
                version = str(state.get("version", {}).get("number", "unknown"))
                LOG.info("OpenSearch Dashboards %s at %s is ready after %d attempt(s)", version, self.base_url, attempts)
                return version
            if self.clock() - last_logged >= WAIT_LOG_INTERVAL:
                LOG.info("Still waiting for OpenSearch Dashboards at %s: %s", self.base_url, state)
                last_logged = self.clock()
            self._pause_or_fail(f"did not report ready (last response: {state})")

    def import_saved_objects(self, ndjson: bytes) -> int:
        """Import ``ndjson`` with overwrite=true; return how many objects Dashboards wrote."""
        response = self._send(
            "POST",
            IMPORT_PATH,
            params={"overwrite": "true"},
            headers=XSRF_HEADERS,
            files={"file": (SAVED_OBJECTS_RESOURCE, ndjson, "application/ndjson")},
        )
        result = self._json(response, "the saved-objects import")
        if not result.get("success"):
            raise DashboardsError(
                f"OpenSearch Dashboards at {self.base_url} rejected the saved-objects import: {import_errors(result)}"
            )
        return int(result.get("successCount", 0))

    def update_settings(self, changes: dict[str, str]) -> None:
        """Set advanced settings (uiSettings) such as defaultIndex and defaultRoute."""
        response = self._send("POST", SETTINGS_PATH, headers=XSRF_HEADERS, json={"changes": changes})
        self._json(response, f"the settings {', '.join(sorted(changes))}")

    def _poll_status(self) -> dict[str, Any] | str:
        """Return the status body when ready, else a short reason for the log and the final error."""
        try:
            response = self.session.get(f"{self.base_url}{STATUS_PATH}", timeout=REQUEST_TIMEOUT)
        except requests.RequestException as error:
            return f"{type(error).__name__}: {error}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        try:
            status = response.json()
        except ValueError:
            return "a body that is not JSON"
        if not isinstance(status, dict):
            return "a JSON body that is not an object"
        return status if is_ready(status) else describe_status(status)

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        while True:
            try:
                response = self.session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
            except requests.RequestException as error:
                reason = f"{type(error).__name__}: {error}"
            else:
                if response.status_code not in RETRY_STATUS_CODES:
                    return response
                reason = f"HTTP {response.status_code}"
            LOG.warning("%s %s failed (%s); retrying", method, url, reason)
            self._pause_or_fail(f"did not accept {method} {path} (last response: {reason})")

    def _pause_or_fail(self, failure: str) -> None:
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise DashboardsError(
                f"OpenSearch Dashboards at {self.base_url} {failure} within {self.timeout:g} s (timed out). "
                "Check that it is running (docker compose ps, docker compose logs opensearch-dashboards) "
                "and that OPENSEARCH_DASHBOARDS_URL points at it, or allow more time with --timeout."
            )
        self.sleep(min(self.poll_interval, remaining))

    def _json(self, response: requests.Response, request_name: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise DashboardsError(
                f"OpenSearch Dashboards at {self.base_url} rejected {request_name}: "
                f"HTTP {response.status_code} {response.text[:500]}"
            )
        try:
            body = response.json()
        except ValueError:
            raise DashboardsError(
                f"OpenSearch Dashboards at {self.base_url} returned a body that is not JSON for {request_name}: "
                f"{response.text[:200]}"
            ) from None
        if not isinstance(body, dict):
            raise DashboardsError(
                f"OpenSearch Dashboards at {self.base_url} returned {body!r} for {request_name}, expected a JSON object"
            )
        return body


def import_errors(result: dict[str, Any]) -> str:
    """Summarise the ``errors`` list of an import result as 'type/id: error type' items."""
    errors = result.get("errors") or []
    if not errors:
        return "success is false and no error is listed"
    items = []
    for error in errors:
        detail = error.get("error", {})
        reason = detail.get("type", "unknown")
        if detail.get("references"):
            missing = ", ".join(f"{ref.get('type')}/{ref.get('id')}" for ref in detail["references"])
            reason += f" ({missing})"
        items.append(f"{error.get('type')}/{error.get('id')}: {reason}")
    return "; ".join(items)


def install_dashboards(client: DashboardsClient, timeout: float = DEFAULT_TIMEOUT) -> ImportSummary:
    """Wait for Dashboards, import the saved objects, and set the default index pattern and landing page."""
    client.start_deadline(timeout)
    version = client.wait_until_ready()
    imported = client.import_saved_objects(saved_objects())
    LOG.info("Imported %d saved objects into %s", imported, client.base_url)
    route = landing_route()
    client.update_settings({"defaultIndex": INDEX_PATTERN_ID, "defaultRoute": route})
    LOG.info("Set defaultIndex=%s and defaultRoute=%s", INDEX_PATTERN_ID, route)
    return ImportSummary(version=version, imported=imported, default_index=INDEX_PATTERN_ID, default_route=route)
