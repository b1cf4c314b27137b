import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LODESTAR_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test with a clear message."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} is missing")
    return path


@pytest.fixture(scope="session")
def con():
    import lodestar

    return lodestar.connect(threads=2)


@pytest.fixture(scope="session")
def lodestar_cli() -> str:
    """The installed `lodestar` console command of this venv."""
    exe = Path(sys.executable).with_name("lodestar")
    assert exe.exists(), f"{exe} missing: is the package installed in this venv?"
    return str(exe)


def run_cli(*args: str, check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).with_name("lodestar"))
    return subprocess.run([exe, *args], capture_output=True, text=True, check=check, timeout=600, **kwargs)
