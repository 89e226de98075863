"""Firehose transform Lambda: turn X API v2 stream messages into documents for OpenSearch.

The Lambda zip contains only ``catsvdogs/__init__.py``, this package and
vaderSentiment, so modules here import only the standard library, vaderSentiment
and each other. A unit test checks the imports.

Modules:

- ``handler``: the Lambda entry point, ``catsvdogs.transform.handler.handler``.
- ``events``: decoding of both event shapes (AWS and LocalStack) and the response.
- ``record``: ``transform_record``, from bytes to a tweet or an error document.
- ``tweet``: validation of a v2 message and the tweet document.
- ``fields``: type-checked reads of message fields, with OpenSearch's limits.
- ``category``: cat, dog, both or none, from hashtags and rule tags.
- ``sentiment``: VADER compound score and label.
- ``timestamps``: ISO 8601 formatting in UTC.
"""

from catsvdogs.transform.record import transform_record

__all__ = ["transform_record"]
