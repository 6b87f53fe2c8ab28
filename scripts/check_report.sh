#!/bin/sh
# Checks every report page under DIR in headless Chromium (see check_report.py).
# Installs Debian's chromium first when it is missing and we are root.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: scripts/check_report.sh DIR [--screenshot OUT_DIR]" >&2
    exit 2
fi
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y chromium >/dev/null
    else
        echo "check_report: chromium is not installed (apt-get install -y chromium)" >&2
        exit 1
    fi
fi
exec python3 "$(dirname "$0")/check_report.py" "$@"
