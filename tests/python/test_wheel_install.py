"""The wheel built by scikit-build-core (`pip wheel .`, reusing the project's
incremental wheel build folder) installs into a fresh venv with only its PyPI
dependencies, where `import lodestar` and the `lodestar` command work with no
LD_LIBRARY_PATH. LODESTAR_WHEEL_ISOLATED=1 builds it in pip's isolated build
environment instead (scikit-build-core and pybind11 fetched from PyPI: slower)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def test_pip_install_into_fresh_venv(tmp_path):
    if os.environ.get("LODESTAR_SKIP_WHEEL_TEST"):
        pytest.skip("LODESTAR_SKIP_WHEEL_TEST is set")
    venv = tmp_path / "fresh"
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base_python), "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV")}
    if os.environ.get("LODESTAR_WHEEL_ISOLATED"):
        target = [f"-Cbuild-dir={tmp_path / 'build'}", str(REPO)]
    else:
        wheels = tmp_path / "wheels"
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", "-w", str(wheels), str(REPO)],
            capture_output=True, text=True, env=env, timeout=1500,
        )
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        target = [str(next(wheels.glob("lodestar-*.whl")))]
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *target], capture_output=True, text=True, env=env, timeout=1500)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    out = subprocess.run(
        [str(venv / "bin" / "lodestar"), "sql", "--csv", "SELECT healpix_nest(0, 45, 60) AS pix, round(ang_sep(0, 0, 0, 1), 9) AS d"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["pix,d", "0,1.0"]
    code = "import lodestar; print(lodestar.sql('SELECT healpix29(0, 90) AS h')['h'].iloc[0]); print(lodestar.__file__)"
    py = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert py.returncode == 0, py.stderr
    value, location = py.stdout.split()
    assert int(value) == 4**29 - 1  # the north pole: last order-29 pixel of base pixel 0
    assert location.startswith(str(venv))
