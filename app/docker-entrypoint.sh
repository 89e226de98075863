#!/bin/sh
# Entry point of the app container: provision the stack, import the dashboards,
# then run the source that SOURCE names. docker compose starts this container
# only after LocalStack, OpenSearch and OpenSearch Dashboards report healthy.
set -eu

READY_FILE=/tmp/catsvdogs-ready
REPLAY_FILE=/opt/catsvdogs/replay_data/cats_v_dogs.jsonl.gz
SOURCE="${SOURCE:-replay}"
REPLAY_SPEED="${REPLAY_SPEED:-5}"

# The compose healthcheck reports healthy once this file exists. A restarted
# container keeps its files, so remove it before provisioning again.
rm -f "$READY_FILE"

case "$SOURCE" in
    replay | x | bluesky) ;;
    *)
        echo "catsvdogs: invalid SOURCE '$SOURCE' in .env. Use replay, bluesky or x" >&2
        exit 2
        ;;
esac

catsvdogs provision
catsvdogs dashboards
touch "$READY_FILE"
echo "catsvdogs: the dashboard is ready; open http://localhost:5601 on the host (or the DASHBOARDS_PORT set in .env)"

if [ "$SOURCE" != replay ]; then
    echo "catsvdogs: streaming live posts from $SOURCE"
    exec catsvdogs stream --source "$SOURCE"
fi

echo "catsvdogs: replaying $REPLAY_FILE in a loop at $REPLAY_SPEED times the recorded pace"
exec catsvdogs replay --loop --speed "$REPLAY_SPEED" --no-progress "$REPLAY_FILE"
