"""Walkthrough problem 37: scripts/setup.sh hides the "Location 'file:…' is ignored" noise of a machine-wide
pip.conf that names missing local indexes, and keeps pip's real errors and exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.channels.console.helpers import ROOT, clean_env

ARGS = ["download", "-q", "--no-deps", "--index-url", "file:///nonexistent/jn-simple", "--find-links",
        "file:///nonexistent/jn-links", "jaganetral-no-such-package"]


def test_pip_location_warnings_are_hidden_and_errors_kept(tmp_path: Path) -> None:
    env = clean_env(PIP_CONFIG_FILE="/dev/null")
    raw = subprocess.run([sys.executable, "-m", "pip", *ARGS, "-d", str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert "is ignored: it is neither a file nor a directory" in raw.stderr  # what pip says by itself
    script = f'source "{ROOT}/scripts/setup.sh"; jn_pip {" ".join(ARGS)} -d "{tmp_path}"'
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == raw.returncode != 0
    assert "is ignored" not in proc.stderr
    assert "No matching distribution found for jaganetral-no-such-package" in proc.stderr
