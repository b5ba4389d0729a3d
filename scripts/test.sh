#!/usr/bin/env bash
# The test command (README and CI): set up .venv and PostgreSQL if needed, then lint (ruff), check the import
# contracts (import-linter) and the types (mypy; both configured in pyproject.toml) and run the tests.
# One pytest run covers both databases: the DB fixtures are parametrised over SQLite and a throw-away
# PostgreSQL cluster (tests/support/pg_server.py); set JAGANETRAL_TEST_DB=sqlite to run SQLite only.
# Extra arguments go to pytest, e.g.  scripts/test.sh -x -k broadcast
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
jn_setup_venv
jn_ensure_postgres
cd "$JN_ROOT"

ruff_rc=0
echo "+ .venv/bin/python -m ruff check ." >&2
.venv/bin/python -m ruff check . || ruff_rc=$?

imports_rc=0
echo "+ .venv/bin/lint-imports" >&2
.venv/bin/lint-imports --no-cache || imports_rc=$?

types_rc=0
echo "+ .venv/bin/python -m mypy" >&2
.venv/bin/python -m mypy || types_rc=$?

pytest_rc=0
echo "+ .venv/bin/python -m pytest -q $*" >&2
.venv/bin/python -m pytest -q "$@" || pytest_rc=$?

if [[ $pytest_rc != 0 ]]; then
    echo "pytest failed (exit code $pytest_rc)" >&2
    exit "$pytest_rc"
fi
if [[ $types_rc != 0 ]]; then
    echo "type check failed (exit code $types_rc)" >&2
    exit "$types_rc"
fi
if [[ $imports_rc != 0 ]]; then
    echo "import contracts broken (exit code $imports_rc)" >&2
    exit "$imports_rc"
fi
if [[ $ruff_rc != 0 ]]; then
    echo "ruff failed (exit code $ruff_rc)" >&2
    exit "$ruff_rc"
fi
