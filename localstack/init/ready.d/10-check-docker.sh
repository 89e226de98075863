#!/bin/sh
# LocalStack ready hook (docker compose only): check that LocalStack can reach
# the Docker engine, because it starts every Lambda function in a container of
# its own. A non-zero exit marks the hook ERROR in /_localstack/init/ready, so
# the localstack service never turns healthy and the app does not start.
set -u

case "${DOCKER_HOST:-}" in
    tcp://*) engine="$DOCKER_HOST" ;;
    unix://*) engine="${DOCKER_HOST#unix://}" ;;
    *) engine=/var/run/docker.sock ;;
esac

ping_engine() {
    case "$engine" in
        tcp://*) curl -fsS --max-time 5 "http://${engine#tcp://}/_ping" ;;
        *) curl -fsS --max-time 5 --unix-socket "$engine" http://docker/_ping ;;
    esac
}

if response=$(ping_engine 2>&1); then
    echo "catsvdogs: Docker engine reachable at $engine (ping: $response), so Lambda functions can start"
    exit 0
fi

echo "catsvdogs: ERROR: the Docker engine is not reachable at $engine: $response" >&2
echo "catsvdogs: LocalStack needs it to run the transform Lambda. Mount the host's Docker socket" >&2
echo "catsvdogs: into the localstack service (/var/run/docker.sock:/var/run/docker.sock in" >&2
echo "catsvdogs: docker-compose.yml) and check that Docker itself is running." >&2
exit 1
