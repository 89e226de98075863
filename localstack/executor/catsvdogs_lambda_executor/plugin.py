"""Entry point that LocalStack's plugin manager loads for ``LAMBDA_RUNTIME_EXECUTOR=host-subprocess``."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostSubprocessExecutorPlugin(RuntimeExecutorPlugin):
    name = "host-subprocess"

    def load(self, *args, **kwargs):
        from catsvdogs_lambda_executor.executor import HostSubprocessExecutor

        return HostSubprocessExecutor
