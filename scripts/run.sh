#!/usr/bin/env bash
# Start JagaNetral: set up .venv if needed, then `python -m bot run` (console chat when no Telegram
# token is configured). Extra arguments go to `bot run`.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
jn_setup_venv run  # the bot's own dependencies only (scripts/test.sh adds the test tools)
cd "$JN_ROOT"
exec .venv/bin/python -m bot run "$@"
