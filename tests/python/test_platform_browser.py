"""End-to-end in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
playwright-core (tests/platform/e2e.mjs). A created user logs in, picks a profile in the
spawn form, opens the quick-start notebook in JupyterLab, runs all cells and sees the
crossmatch result and the sky map; a second user cannot open the first user's server or
read their home. Screenshots are kept in out/test-artifacts/platform-browser/."""

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "platform"))
import demo_root  # noqa: E402
import hub_client  # noqa: E402
from hub_client import Platform, process_env, server_pid  # noqa: E402

E2E = REPO / "tests" / "platform" / "e2e.mjs"
ARTIFACTS = REPO / "out" / "test-artifacts" / "platform-browser"


def browser_skip_reason() -> str | None:
    reason = hub_client.skip_reason()
    if reason:
        return reason
    if not Path("/usr/bin/chromium").exists():
        return "Debian's chromium is not installed (/usr/bin/chromium)"
    if not shutil.which("node"):
        return "node is not installed"
    if not (REPO / "tests" / "platform" / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed: run `npm ci --ignore-scripts --prefix tests/platform`"
    return None


pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=browser_skip_reason() or "")


def test_quick_start_in_a_real_browser():
    missing = demo_root.missing_api()
    if missing:
        pytest.skip(f"the quick-start notebook uses {', '.join(missing)}, not in this build yet")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    p = Platform()
    try:
        p.start("--dask-workers", "1", prepare_catalogs=lambda root: demo_root.build_demo_root(root))
        alice, alice_password = p.add_user("alice")
        bob, bob_password = p.add_user("bob")
        env = {
            **os.environ,
            "LS_BASE": p.base,
            "LS_USER": alice,
            "LS_PASSWORD": alice_password,
            "LS_PROFILE": "small",
            "LS_OTHER_USER": bob,
            "LS_OTHER_PASSWORD": bob_password,
            "LS_ARTIFACTS": str(ARTIFACTS),
            "LS_TIMEOUT_MS": "300000",
        }
        result = subprocess.run(["node", str(E2E)], capture_output=True, text=True, env=env, timeout=900, cwd=E2E.parent)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        report = json.loads(lines[-1]) if lines else {}
        assert result.returncode == 0 and report.get("ok"), f"{report.get('error')}\n{result.stderr[-3000:]}\n{p.log_tail()}"
        # The profile clicked in the form reached alice's server.
        env_of_server = process_env(server_pid(alice))
        assert env_of_server["LODESTAR_PROFILE"] == "small" and env_of_server["LODESTAR_THREADS"] == "1"
        assert report["crossmatch_matches"] > 0 and report["skymap_size"][0] > 200
        assert report["other_user_status"] in (403, 404)
        # ...and bob cannot read alice's home on the machine either.
        home = pwd.getpwnam(alice).pw_dir
        r = subprocess.run(["runuser", "-u", bob, "--", "ls", home], capture_output=True, text=True)
        assert r.returncode != 0 and "Permission denied" in r.stderr
        for shot in ("01-spawn-form", "02-notebook-open", "03-quick-start-ran", "04-second-user-refused"):
            assert (ARTIFACTS / f"{shot}.png").stat().st_size > 5000, shot
    finally:
        p.cleanup()
        for profile in ARTIFACTS.glob("chromium-*"):
            shutil.rmtree(profile, ignore_errors=True)
