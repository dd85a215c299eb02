#!/usr/bin/env bash
# taipan-binary.sh — prints the path of the release `taipan` binary: $TAIPAN when it is set,
# otherwise after building it with `swift build -c release`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${TAIPAN:-}" ]; then
    echo "$TAIPAN"
else
    swift build -c release --product taipan >/dev/null
    echo "$(swift build -c release --show-bin-path)/taipan"
fi
