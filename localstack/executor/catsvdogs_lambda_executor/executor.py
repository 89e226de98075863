"""LocalStack runtime executor that runs a Python Lambda function in a host subprocess.

LocalStack's only shipped executor starts a Docker container per function.
This one starts ``runner.py`` with the interpreter that matches the function's
runtime, with the unzipped code as the only thing on the import path beside
the standard library. It supports zip-packaged ``python3.*`` functions only.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

LOG = logging.getLogger(__name__)

RUNNER_PATH = Path(__file__).with_name("runner.py")
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0
# Set this to an interpreter path to run every function with it, whatever its runtime.
PYTHON_OVERRIDE_VARIABLE = "LAMBDA_HOST_PYTHON"
# Variables of LocalStack's own process that the function's environment keeps.
INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME")


def find_interpreter(runtime: str) -> str:
    """Return the host interpreter for a runtime such as ``python3.11``, or raise with what to do."""
    override = os.environ.get(PYTHON_OVERRIDE_VARIABLE, "").strip()
    if override:
        return override
    match = re.fullmatch(r"python(3\.\d+)", runtime or "")
    if not match:
        raise LambdaRuntimeException(
            f"Runtime '{runtime}' is not supported by the host-subprocess executor; it runs python3.* zip functions only"
        )
    candidate = shutil.which(f"python{match.group(1)}")
    if candidate is None:
        raise LambdaRuntimeException(
            f"No python{match.group(1)} found on PATH for runtime {runtime}; "
            f"install it or set {PYTHON_OVERRIDE_VARIABLE} to an interpreter path"
        )
    return candidate


class HostSubprocessExecutor(RuntimeExecutor):
    """Runs one execution environment as one long-lived subprocess; invokes are serial, as in Lambda."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._process: subprocess.Popen[bytes] | None = None
        self._responses: queue.Queue[dict | None] = queue.Queue()
        self._request_pipe = None
        self._invoke_lock = threading.Lock()
        self._log_path = Path(tempfile.mkdtemp(prefix=f"lambda-{id}-")) / "function.log"

    def start(self, env_vars: dict[str, str]) -> None:
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException("Image-based functions are not supported by the host-subprocess executor")
        code_dir = str(code.get_unzipped_code_location())
        interpreter = find_interpreter(self.function_version.config.runtime)

        environment = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        environment.update({name: str(value) for name, value in env_vars.items()})
        environment["LAMBDA_TASK_ROOT"] = code_dir

        read_fd, write_fd = os.pipe()
        log_file = open(self._log_path, "ab")
        try:
            self._process = subprocess.Popen(
                [interpreter, "-I", "-S", "-u", str(RUNNER_PATH), code_dir, str(write_fd)],
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=log_file,
                env=environment,
                cwd=code_dir,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
            log_file.close()
        self._request_pipe = self._process.stdin
        threading.Thread(target=self._read_responses, args=(read_fd,), daemon=True, name=f"lambda-{self.id}").start()
        LOG.info(
            "Started function %s in host process %s with %s (logs: %s)",
            self.function_version.qualified_arn,
            self._process.pid,
            interpreter,
            self._log_path,
        )

        try:
            ready = self._responses.get(timeout=READY_TIMEOUT_SECONDS)
        except queue.Empty:
            self.stop()
            raise LambdaRuntimeException(f"Function process did not start within {READY_TIMEOUT_SECONDS} s; see {self._log_path}")
        if ready is None:
            raise LambdaRuntimeException(f"Function process exited during start; see {self._log_path}")

    def _read_responses(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8") as stream:
            for line in stream:
                self._responses.put(json.loads(line))
        self._responses.put(None)

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        LOG.info("Stopping host process %s of %s", process.pid, self.function_version.qualified_arn)
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            LOG.warning("Host process %s did not exit within %s s; killing it", process.pid, STOP_TIMEOUT_SECONDS)
            process.kill()
            process.wait()

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout = float(self.function_version.config.timeout)
        request = {
            "request_id": request_id,
            "function_arn": payload["invoked-function-arn"],
            "payload": payload["payload"],
            "timeout": timeout,
        }
        with self._invoke_lock:
            if self._process is None or self._process.poll() is not None:
                return self._error_result(request_id, "Runtime.ExitError", "The function process is not running")
            log_offset = self._log_size()
            self._request_pipe.write(json.dumps(request).encode() + b"\n")
            self._request_pipe.flush()
            try:
                response = self._responses.get(timeout=timeout)
            except queue.Empty:
                LOG.warning("Invocation %s timed out after %s s; killing the function process", request_id, timeout)
                self._process.kill()
                return self._error_result(request_id, "Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
        if response is None:
            return self._error_result(request_id, "Runtime.ExitError", f"The function process exited; see {self._log_path}")
        return InvocationResult(
            request_id=request_id,
            payload=response["payload"].encode(),
            is_error=response["error"],
            logs=self._read_logs(log_offset),
        )

    def _error_result(self, request_id: str, error_type: str, message: str) -> InvocationResult:
        body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
        return InvocationResult(request_id=request_id, payload=body, is_error=True, logs=self.get_logs())

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    def get_logs(self) -> str:
        return self._read_logs(0)

    def _log_size(self) -> int:
        try:
            return self._log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def _read_logs(self, offset: int) -> str:
        """Return the function's output from byte ``offset`` on, so each invocation gets only its own lines."""
        try:
            with open(self._log_path, "rb") as log_file:
                log_file.seek(offset)
                return log_file.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code is None:
            raise LambdaRuntimeException("Image-based functions are not supported by the host-subprocess executor")
        find_interpreter(function_version.config.runtime)
        function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to clean: prepare_version only unzips code, which LocalStack removes itself."""

    @classmethod
    def validate_environment(cls) -> bool:
        return True
