#!/usr/bin/env bash
# The test suite, as CI runs it. Label Studio cannot share the project's venv (its SDK pins
# numpy < 2.3 through opencv), so the live-server test uses its own venv, made here once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-labelstudio/bin/label-studio ]; then
    python3 -m venv .venv-labelstudio
    .venv-labelstudio/bin/pip install --quiet label-studio==1.23.2 label-studio-sdk==2.1.2
fi
export LABEL_STUDIO_BIN="$PWD/.venv-labelstudio/bin/label-studio"
. .venv/bin/activate
exec pytest "$@"
