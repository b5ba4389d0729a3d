# shellcheck shell=bash
# Shared setup for scripts/run.sh and scripts/test.sh (sourced, not executed).
#
#   jn_setup_venv [run] create/refresh .venv (python >= 3.11, pip install -e '.[test]'; with "run" only what the
#                       bot needs, pip install -e .); quick when up to date
#   jn_pip ARGS         pip in .venv, without the "Location 'file:…' is ignored" warnings that a machine-wide
#                       pip.conf naming missing local indexes prints for every package
#   jn_ensure_postgres  make sure PostgreSQL server binaries (initdb, pg_ctl) exist; apt-get them when possible
#
# Environment:
#   JAGANETRAL_PYTHON       interpreter used to create .venv (default: first python3.11 / python3 >= 3.11)
#   JAGANETRAL_SKIP_SETUP=1 trust the existing .venv as is
#   CI=true                 missing PostgreSQL is an error (not a warning); no main cluster on apt install

JN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JN_VENV="$JN_ROOT/.venv"
JN_STAMP="$JN_VENV/.jaganetral-setup"          # the project and its test extras are installed
JN_STAMP_RUN="$JN_VENV/.jaganetral-setup-run"  # the project alone (scripts/run.sh) is installed
JN_APT_UPDATED=0

jn_log() { printf '[setup] %s\n' "$*" >&2; }
jn_die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

jn_is_ci() { [[ -n "${CI:-}" && "${CI:-}" != "false" && "${CI:-}" != "0" ]]; }

# Run a command as root: directly, or through password-less sudo. Returns 1 when impossible.
jn_as_root() {
    if [[ "$(id -u)" == 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

jn_can_apt() {
    command -v apt-get >/dev/null 2>&1 || return 1
    [[ "$(id -u)" == 0 ]] && return 0
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null
}

jn_apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [[ "$JN_APT_UPDATED" != 1 ]]; then
        jn_log "apt-get update"
        jn_as_root apt-get update -q || return 1
        JN_APT_UPDATED=1
    fi
    jn_log "apt-get install $*"
    jn_as_root apt-get install -y -q --no-install-recommends "$@"
}

# Prints the path of a usable interpreter (>= 3.11 with venv + ensurepip), or nothing.
jn_find_python() {
    local cand
    for cand in ${JAGANETRAL_PYTHON:-} python3.11 python3 python3.12 python3.13 /usr/bin/python3; do
        command -v "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

# Hash of everything that decides what gets installed into .venv.
jn_setup_hash() {
    {
        cat "$JN_ROOT/pyproject.toml"
        "$JN_VENV/bin/python" -c 'import sys; print(sys.version)'
        echo "setup-v1"
    } | sha256sum | cut -d' ' -f1
}

jn_venv_ok() {
    [[ -x "$JN_VENV/bin/python" ]] &&
        "$JN_VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

# 0 when .venv holds what level "$1" (test | run) needs for the current pyproject.toml and Python.
jn_setup_current() {
    jn_venv_ok || return 1
    local hash
    hash="$(jn_setup_hash)"
    [[ -f "$JN_STAMP" && "$(cat "$JN_STAMP")" == "$hash" ]] && return 0
    [[ "$1" == run && -f "$JN_STAMP_RUN" && "$(cat "$JN_STAMP_RUN")" == "$hash" ]]
}

jn_pip() {
    local status
    exec 3>&1
    "$JN_VENV/bin/python" -m pip "$@" 2>&1 1>&3 3>&- |
        { grep -v "^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory\.$" >&2 || true; }
    status=${PIPESTATUS[0]}
    exec 3>&-
    return "$status"
}

jn_setup_venv() {
    local level="${1:-test}"
    if [[ "${JAGANETRAL_SKIP_SETUP:-}" == 1 ]] && jn_venv_ok; then
        return 0
    fi
    if jn_setup_current "$level"; then
        return 0  # fast path: nothing changed since the last install
    fi
    # Serialise concurrent setups of the same checkout (e.g. run.sh and test.sh started together).
    local lock
    lock="${TMPDIR:-/tmp}/jaganetral-setup-$(printf '%s' "$JN_ROOT" | sha256sum | cut -c1-12).lock"
    (
        if command -v flock >/dev/null 2>&1; then
            exec 9>"$lock"
            flock -w 900 9 || jn_die "timed out waiting for another setup ($lock)"
        fi
        jn_setup_venv_locked "$level"
    ) || exit $?
}

jn_setup_venv_locked() {
    local level="$1"
    if jn_setup_current "$level"; then
        return 0  # another process finished the setup while we waited
    fi
    if ! jn_venv_ok; then
        local py
        py="$(jn_find_python)" || true
        if [[ -z "$py" ]]; then
            jn_can_apt || jn_die "need Python >= 3.11 with the venv module (Debian: apt-get install python3 python3-venv)"
            jn_apt_install python3 python3-venv ca-certificates || jn_die "apt-get install python3 python3-venv failed"
            py="$(jn_find_python)" || jn_die "no Python >= 3.11 with venv/ensurepip even after apt-get install"
        fi
        jn_log "creating .venv with $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"
        rm -rf "$JN_VENV"
        "$py" -m venv "$JN_VENV" || jn_die "python -m venv failed"
    fi
    if [[ "$level" == run ]]; then
        jn_log "installing the project into .venv (pip install -e .)"
        (cd "$JN_ROOT" && jn_pip install -q --disable-pip-version-check -e .) || jn_die "pip install -e . failed"
        jn_setup_hash >"$JN_STAMP_RUN"
    else
        jn_log "installing the project and its test dependencies into .venv (pip install -e '.[test]')"
        (cd "$JN_ROOT" && jn_pip install -q --disable-pip-version-check -e '.[test]') ||
            jn_die "pip install -e '.[test]' failed"
        jn_setup_hash >"$JN_STAMP"
        jn_setup_hash >"$JN_STAMP_RUN"
    fi
    jn_log ".venv ready"
}

# 0 when PostgreSQL server binaries are found (same lookup as tests/support/pg_server.py).
jn_pg_found() {
    (cd "$JN_ROOT" && "$JN_VENV/bin/python" -c \
        'import sys; from tests.support.pg_server import find_pg_bin; b = find_pg_bin(); print(b or ""); sys.exit(b is None)')
}

jn_ensure_postgres() {
    local bin
    if bin="$(jn_pg_found)"; then
        return 0
    fi
    if jn_can_apt; then
        if jn_is_ci && [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
            # Throw-away CI machine: the tests start their own clusters, so skip Debian's "main" cluster.
            jn_as_root mkdir -p /etc/postgresql-common/createcluster.d
            echo "create_main_cluster = false" |
                jn_as_root tee /etc/postgresql-common/createcluster.d/jaganetral-ci.conf >/dev/null
        fi
        if jn_apt_install postgresql && bin="$(jn_pg_found)"; then
            jn_log "PostgreSQL server binaries: $bin"
            return 0
        fi
    fi
    if jn_is_ci; then
        jn_die "PostgreSQL server binaries (initdb, pg_ctl) are missing and could not be installed"
    fi
    jn_log "WARNING: PostgreSQL server not installed (Debian: sudo apt-get install postgresql);"
    jn_log "         the PostgreSQL variants of the tests will be skipped"
}
