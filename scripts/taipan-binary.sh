#!/usr/bin/env bash
# taipan-binary.sh — prints the path of the release `taipan` binary: $TAIPAN when it is set,
# otherwise after `make build` (the same flags as `make test` and `make train`: another set of
# flags would rebuild everything).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${TAIPAN:-}" ]; then
    echo "$TAIPAN"
else
    make -s build >/dev/null
    echo "$(make -s bin-path)/taipan"
fi
