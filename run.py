#!/usr/bin/env python3
"""The project's two entry points, for a fresh machine with only Python 3.11.

    python3 run.py demo    # the main job on the embedded default store (SQLite)
    python3 run.py test    # the whole test suite: ruff, mypy, import contracts, pytest
                           # against SQLite and a real PostgreSQL this command starts

It installs what the project needs itself: uv into a private bootstrap environment, the
locked Python packages into .venv, and Debian's postgresql when the machine lacks it.
Extra arguments after the command are passed on (to `liangrong demo` or to pytest).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".cache" / "bootstrap"
VENV = ROOT / ".venv"
UV_VERSION = "0.9.7"
# The server's own log would drown pytest's report; errors still reach the tests.
PG_QUIET = ("log_min_messages=panic", "log_min_error_statement=panic", "log_checkpoints=off")
# Each package and a file (glob) that shows it is installed: PostgreSQL for the tests, the
# CJK font statements embed in their PDFs, and HarfBuzz's subsetter WeasyPrint uses to
# embed only the glyphs a statement needs (without it, fontTools subsets far slower).
DEBIAN_PACKAGES = {
    "postgresql": "/usr/lib/postgresql",
    "fonts-noto-cjk": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "libharfbuzz-subset0": "/usr/lib/*/libharfbuzz-subset.so.0",
}


def say(text: str) -> None:
    print(f"[run.py] {text}", flush=True)


def run(cmd: list[str], **kwargs: object) -> int:
    return subprocess.call(cmd, cwd=ROOT, **kwargs)  # type: ignore[arg-type]


def uv_binary() -> Path:
    uv = BOOTSTRAP / "bin" / "uv"
    if not uv.exists():
        say(f"installing uv {UV_VERSION} into {BOOTSTRAP}")
        subprocess.check_call([sys.executable, "-m", "venv", str(BOOTSTRAP)])
        subprocess.check_call(
            [str(BOOTSTRAP / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"]
        )
    return uv


def ensure_env() -> None:
    """Install the locked environment into .venv (fast no-op when already in sync)."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is required, this is {sys.version.split()[0]}")
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_PROJECT_ENVIRONMENT=str(VENV))
    code = subprocess.call(
        [str(uv_binary()), "sync", "--frozen", "--quiet", "--python", sys.executable],
        cwd=ROOT,
        env=env,
    )
    if code != 0:
        sys.exit(f"uv sync failed with exit code {code}")


def ensure_debian_packages() -> None:
    missing = [name for name, path in DEBIAN_PACKAGES.items() if not glob.glob(path)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        sys.exit(f"missing Debian packages {missing} and no apt-get to install them")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    say(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.check_call([*sudo, "apt-get", "update", "-q"], env=env)
    subprocess.check_call([*sudo, "apt-get", "install", "-y", "-q", *missing], env=env)


def demo(args: list[str]) -> int:
    ensure_env()
    ensure_debian_packages()
    return run([str(VENV / "bin" / "liangrong"), "demo", *args])


def test(args: list[str]) -> int:
    ensure_env()
    ensure_debian_packages()
    bin_dir = VENV / "bin"
    checks = [
        ("ruff", [str(bin_dir / "ruff"), "check", "src", "tests", "benchmarks", "scripts"]),
        ("mypy", [str(bin_dir / "mypy")]),
        ("import contracts", [str(bin_dir / "lint-imports")]),
    ]
    for name, cmd in checks:
        say(f"{name}: {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}")
        if run(cmd) != 0:
            say(f"FAILED: {name}")
            return 1
    env = dict(os.environ, LIANGRONG_REQUIRE_POSTGRES="1")
    pytest = [str(bin_dir / "pytest"), *args]
    say("pytest against SQLite and a throwaway PostgreSQL cluster (pg_virtualenv)")
    quiet = [f"-o{setting}" for setting in PG_QUIET]
    # -t keeps the cluster in a temporary directory even as root: a run killed
    # part-way leaves /etc/postgresql/*/regress behind, and pg_virtualenv then
    # refuses to start the next run in the standard locations.
    virtualenv = ["pg_virtualenv", "-t", *quiet, "--"]
    code = subprocess.call([*virtualenv, *pytest], cwd=ROOT, env=env)
    if code == 5:
        say("FAILED: pytest collected no tests")
        return 1
    return code


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        print(__doc__)
        return 2
    command, args = sys.argv[1], sys.argv[2:]
    return demo(args) if command == "demo" else test(args)


if __name__ == "__main__":
    sys.exit(main())
