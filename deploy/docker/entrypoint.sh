#!/bin/sh
# The image's entry point. `serve` (the default command) applies pending migrations
# first and stops if they fail; any other arguments run that `tulou` command, e.g.
#   docker run --rm -v tulou-data:/var/lib/tulou IMAGE areas import /import/areas.csv
set -eu

if [ "${1:-serve}" = "serve" ]; then
    if [ "$#" -gt 0 ]; then
        shift
    fi
    tulou migrate
    exec tulou serve "$@"
fi
exec tulou "$@"
