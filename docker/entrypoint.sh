#!/bin/sh
# The container's entrypoint: `supportbot run` (or any other supportbot command given as arguments).
#
# `supportbot run` exits with status 2 on a configuration error (a missing or refused token, no staff group...).
# Restarting cannot fix that, so instead of exiting (and being restarted by `restart: unless-stopped` forever)
# this script prints what to do once and then waits, doing nothing, until the container is stopped or
# recreated. Any other status (0; 1: Redis away, a broken FAQ...) is passed through, and the restart policy
# restarts the bot. SIGTERM and SIGINT (docker stop) are passed on to the bot as SIGTERM, SIGHUP as SIGHUP
# (`docker compose kill -s HUP bot` reloads the FAQ).
set -u

if [ "$#" -eq 0 ]; then
    set -- run
fi
if [ "$1" != "run" ]; then
    exec supportbot "$@"  # doctor, faq reload, stats...: their own status, no guard
fi

child=""
stopping=""
trap 'stopping=1; if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi' TERM INT
trap 'if [ -n "$child" ]; then kill -HUP "$child" 2>/dev/null; fi' HUP
supportbot "$@" &
child=$!
if [ -n "$stopping" ]; then
    kill -TERM "$child" 2>/dev/null  # stopped while it was being started
fi
# a trapped signal interrupts `wait` (status > 128) while the bot runs on: wait again
while :; do
    wait "$child"
    status=$?
    if [ "$status" -le 128 ] || ! kill -0 "$child" 2>/dev/null; then
        break
    fi
done
if [ "$status" -gt 128 ]; then
    wait "$child"  # interrupted just as the bot ended: the shell still knows its own status
    status=$?
fi

if [ "$status" -ne 2 ] || [ -n "$stopping" ]; then
    exit "$status"
fi

sleeper=""
trap '' HUP
trap 'if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi; exit 2' TERM INT
echo "supportbot: configuration error, fix .env and run docker compose up -d again (the line above says what is wrong; \`docker compose run --rm bot doctor\` checks everything). Waiting, not restarting." >&2
while :; do
    sleep 3600 &
    sleeper=$!
    wait "$sleeper"
done
