"""A LocalStack Lambda runtime executor that needs no Docker engine.

Select it in LocalStack with ``LAMBDA_RUNTIME_EXECUTOR=host-subprocess``.
"""
