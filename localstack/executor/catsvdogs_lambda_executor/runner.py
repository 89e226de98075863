"""Lambda runtime loop that runs in the host subprocess, with only the function's code on sys.path.

The executor starts this file as ``python -I -S runner.py CODE_DIR``: ``-I``
ignores PYTHON* variables and the user site, ``-S`` leaves site-packages out,
so the import path is the standard library plus the unzipped function code,
as in AWS Lambda's Python runtime. A dependency missing from the zip then
fails the import here as it would on AWS.

Protocol: one JSON request a line on stdin, one JSON response a line on the
file descriptor passed as the second argument. Anything the handler prints
or logs goes to stderr, which the executor keeps as the function's log.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The subset of AWS Lambda's context object that handlers commonly read."""

    def __init__(self, request_id: str, function_arn: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Shape an exception as AWS Lambda reports it to the caller."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def load_handler(handler_name: str) -> Any:
    """Import ``module.function`` the way the AWS Python runtime does, raising with its error types."""
    module_name, _, function_name = handler_name.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{handler_name}': expected MODULE.FUNCTION")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(f"Unable to import module '{module_name}': {error}") from error
    try:
        return getattr(module, function_name)
    except AttributeError as error:
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'") from error


def main() -> int:
    code_dir, response_fd = sys.argv[1], int(sys.argv[2])
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    responses = os.fdopen(response_fd, "w", encoding="utf-8")
    # Handler output must not reach the protocol channel.
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")

    handler = None
    init_error: dict[str, Any] | None = None
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except ImportError as error:
        init_error = error_payload(error, "Runtime.ImportModuleError")
    except Exception as error:  # noqa: BLE001 - any init failure is reported per invoke, as AWS does
        init_error = error_payload(error, "Runtime.HandlerNotFound")
    if init_error:
        print(f"init failed: {init_error['errorMessage']}", file=sys.stderr, flush=True)

    responses.write(json.dumps({"ready": True}) + "\n")
    responses.flush()

    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        started = time.monotonic()
        print(f"START RequestId: {request_id}", file=sys.stderr, flush=True)
        if init_error is not None:
            response = {"request_id": request_id, "error": True, "payload": json.dumps(init_error)}
        else:
            context = LambdaContext(request_id, request["function_arn"], started + request["timeout"])
            try:
                result = handler(json.loads(request["payload"]), context)
                response = {"request_id": request_id, "error": False, "payload": json.dumps(result)}
            except Exception as error:  # noqa: BLE001 - the error goes back to the caller as on AWS
                traceback.print_exc(file=sys.stderr)
                response = {"request_id": request_id, "error": True, "payload": json.dumps(error_payload(error))}
        elapsed_ms = (time.monotonic() - started) * 1000
        print(f"END RequestId: {request_id} Duration: {elapsed_ms:.2f} ms", file=sys.stderr, flush=True)
        responses.write(json.dumps(response) + "\n")
        responses.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
