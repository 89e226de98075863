"""Cats v dogs: replay or stream tweets through Firehose, a transform Lambda and OpenSearch."""

__version__ = "0.1.0"
