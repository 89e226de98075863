"""OpenSearch client for the configured URL, signed with SigV4 when it is an AWS domain."""

from __future__ import annotations

from urllib.parse import urlparse

import boto3
from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

from catsvdogs.config import Settings

AWS_DOMAIN_SUFFIXES = (".es.amazonaws.com", ".aoss.amazonaws.com")


def make_search_client(settings: Settings, url: str | None = None, timeout: float = 30.0) -> OpenSearch:
    """Create a client for ``url`` (default: OPENSEARCH_URL); AWS domains get SigV4 request signing."""
    target = url or settings.opensearch_url
    parsed = urlparse(target if "://" in target else f"https://{target}")
    host = parsed.hostname or "localhost"
    use_ssl = parsed.scheme == "https"
    port = parsed.port or (443 if use_ssl else 80)
    arguments: dict[str, object] = {}
    if host.endswith(AWS_DOMAIN_SUFFIXES):
        credentials = boto3.session.Session().get_credentials()
        arguments["http_auth"] = AWSV4SignerAuth(credentials, settings.region, "es")
        arguments["connection_class"] = RequestsHttpConnection
    return OpenSearch(
        hosts=[{"host": host, "port": port}],
        url_prefix=parsed.path.rstrip("/"),
        use_ssl=use_ssl,
        verify_certs=use_ssl,
        timeout=timeout,
        **arguments,
    )
