"""The local science platform with its real components: `lodestar platform up` (JupyterHub,
configurable-http-proxy, Dask scheduler + workers), real Unix users logging in through PAM,
the spawn form's profiles reaching the server, the security properties (localhost only,
secrets 0600, private homes, read-only catalogs, authentication everywhere), idle culling
and `down`. Runs as root; creates and deletes lstest-* accounts."""

import os
import pwd
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "platform"))
import hub_client  # noqa: E402
from hub_client import HubSession, Kernel, Platform, process_env, run_platform, server_pid  # noqa: E402

pytestmark = pytest.mark.skipif(hub_client.skip_reason() is not None, reason=hub_client.skip_reason() or "")


@pytest.fixture(scope="module")
def platform():
    p = Platform()
    try:
        def catalogs(root):  # present before `up`, which seals the root
            (root / "demo").mkdir()
            (root / "demo" / "README").write_text("a catalog\n")
            import lodestar

            if hasattr(lodestar, "ingest"):  # one real catalog of 100 known rows
                import numpy as np
                import pandas as pd

                rng = np.random.default_rng(3)
                rows = pd.DataFrame({"id": np.arange(100), "ra": rng.uniform(0, 360, 100), "dec": rng.uniform(-60, 60, 100)})
                rows.to_parquet(p.workdir / "tiny.parquet", index=False)
                lodestar.ingest(str(p.workdir / "tiny.parquet"), "tiny", root=str(root), progress=False)

        p.start("--dask-workers", "1", "--idle-timeout", "3600", "--cull-every", "60", prepare_catalogs=catalogs)
        p.alice = p.add_user("alice")
        p.bob = p.add_user("bob")
        p.carol = p.add_user("carol", admin=True)
        yield p
    finally:
        p.cleanup()


@pytest.fixture(scope="module")
def alice_session(platform):
    s = HubSession(platform)
    assert s.login(*platform.alice).status_code == 302
    s.spawn("small")
    return s


@pytest.fixture(scope="module")
def bob_session(platform):
    s = HubSession(platform)
    assert s.login(*platform.bob).status_code == 302
    s.spawn("medium")
    return s


def as_user(user: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True)


# --- start-up, secrets, network ----------------------------------------------------------


def test_up_reports_the_url_and_status_is_running(platform):
    assert f"http://127.0.0.1:{platform.settings['port']}/" in platform.up_output
    status = run_platform("status", "--state-dir", str(platform.state))
    assert status.returncode == 0, status.stdout + status.stderr
    assert '"jupyterhub": true' in status.stdout and '"dask-scheduler": true' in status.stdout


def test_secrets_are_generated_with_mode_0600(platform):
    for name in ("jupyterhub_cookie_secret", "proxy_auth_token", "settings.json", "jupyterhub.sqlite"):
        mode = stat.S_IMODE((platform.state / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    secret = (platform.state / "jupyterhub_cookie_secret").read_text().strip()
    assert len(bytes.fromhex(secret)) == 32
    assert (platform.state / "proxy_auth_token").read_text().strip() != secret
    # Other users can traverse the state directory (to reach its public/ part) but not list it.
    assert stat.S_IMODE(platform.state.stat().st_mode) == 0o711


def test_secrets_survive_a_restart_unchanged(tmp_path):
    from lodestar.commands.platform import ensure_secret

    path = tmp_path / "secret"
    ensure_secret(path)
    first = path.read_text()
    path.chmod(0o644)  # someone loosened it
    ensure_secret(path)
    assert path.read_text() == first and stat.S_IMODE(path.stat().st_mode) == 0o600


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, local address, port) of every listening TCP socket of these processes."""
    inodes = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            pass
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] != "0A" or parts[9] not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = parts[1].split(":")
            raw = bytes.fromhex(addr_hex)
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # kernel byte order per 32-bit word
            found.append((inodes[parts[9]], socket.inet_ntop(family, raw), int(port_hex, 16)))
    return found


def test_everything_listens_on_localhost_only(platform, alice_session):
    from lodestar.commands.platform import marked_processes

    pids = set(marked_processes(platform.state))
    sockets = listening_sockets(pids)
    ports = {port for _, _, port in sockets}
    s = platform.settings
    # The proxy, the hub, the proxy API, the scheduler and alice's server all listen...
    assert {s["port"], s["hub_port"], s["proxy_api_port"], int(s["scheduler_address"].rsplit(":", 1)[1])} <= ports
    assert len(sockets) >= 6
    # ...and only on the loopback interface.
    exposed = [(addr, port, Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]) for pid, addr, port in sockets
               if addr not in ("127.0.0.1", "::ffff:127.0.0.1")]
    assert exposed == []


# --- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [("GET", "/hub/api/users"), ("GET", "/hub/api/users/root"), ("POST", "/hub/api/users/x/server"),
                                          ("GET", "/hub/api/proxy")])
def test_hub_api_refuses_unauthenticated_requests(platform, method, path):
    import requests

    r = requests.request(method, platform.base + path, allow_redirects=False)
    assert r.status_code == 403, (r.status_code, r.text[:200])
    r = requests.request(method, platform.base + path, headers={"Authorization": "token not-a-token"}, allow_redirects=False)
    assert r.status_code == 403


def test_wrong_password_and_non_members_cannot_log_in(platform):
    user, _ = platform.alice
    assert HubSession(platform).login(user, "wrong-password").status_code == 403
    outsider = platform.add_user("eve", in_users_group=False)  # a Unix account outside the platform's group
    assert HubSession(platform).login(*outsider).status_code == 403
    assert HubSession(platform).login("root", "anything").status_code == 403


def test_user_server_refuses_unauthenticated_requests(platform, alice_session):
    import requests

    user = platform.alice[0]
    # Through the proxy: sent to the hub's login, never served.
    r = requests.get(f"{platform.base}/user/{user}/api/contents", allow_redirects=False)
    assert r.status_code in (302, 403) and "lodestar-examples" not in r.text
    if r.status_code == 302:
        assert "/hub/" in r.headers["Location"]
    # Directly at the server's port, bypassing the proxy.
    port = next(p for pid, _, p in listening_sockets({server_pid(user)}))
    r = requests.get(f"http://127.0.0.1:{port}/user/{user}/api/contents", allow_redirects=False)
    assert r.status_code in (302, 403) and "lodestar-examples" not in r.text


def test_second_user_cannot_open_the_first_users_server(platform, alice_session, bob_session):
    alice = platform.alice[0]
    r = bob_session.s.get(f"{platform.base}/user/{alice}/api/contents", allow_redirects=True)
    assert r.status_code in (403, 404), (r.status_code, r.url)
    assert "lodestar-examples" not in r.text
    r = bob_session.s.get(f"{platform.base}/user/{alice}/lab", allow_redirects=True)
    assert r.status_code in (403, 404)
    # Bob's own token does not open it either.
    r = bob_session.s.get(f"{platform.base}/user/{alice}/api/contents", headers={"Authorization": f"token {bob_session.token()}"})
    assert r.status_code in (302, 403, 404) and "lodestar-examples" not in r.text


# --- the spawn form and profiles ----------------------------------------------------------


def test_spawn_form_offers_the_profiles(platform, bob_session):
    r = HubSession(platform)
    r.login(*platform.carol)
    page = r.s.get(platform.base + "/hub/spawn").text
    for slug in ("small", "medium", "large"):
        assert f'value="{slug}"' in page
    assert "Dask workers" in page and "Memory" in page and "CPU cores" in page


def test_unknown_profile_is_refused(platform):
    s = HubSession(platform)
    s.login(*platform.carol)
    r = s.s.post(platform.base + "/hub/spawn", data={"profile": "huge", "_xsrf": s.xsrf()}, allow_redirects=True)
    assert "unknown profile" in r.text and "huge" in r.text
    assert not s.hub_api(f"/users/{platform.carol[0]}").json().get("servers")


def test_chosen_profile_reaches_the_servers_environment(platform, alice_session, bob_session):
    ncpu = len(os.sched_getaffinity(0))
    for (user, _), profile, cpus, mem, workers in ((platform.alice, "small", 1, 2, 1), (platform.bob, "medium", min(2, ncpu), 4, 2)):
        pid = server_pid(user)
        env = process_env(pid)
        assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam(user).pw_uid  # runs as its user
        assert env["LODESTAR_PROFILE"] == profile
        assert env["LODESTAR_THREADS"] == str(cpus) and env["CPU_LIMIT"] == f"{float(cpus)}"
        assert env["MEM_LIMIT"] == str(mem * 2**30) and env["LODESTAR_MEMORY_LIMIT"] == f"{mem * 1024}MiB"
        assert env["LODESTAR_DASK_WORKERS"] == str(workers)
        assert env["DASK_SCHEDULER_ADDRESS"] == platform.settings["scheduler_address"] == env["LODESTAR_SCHEDULER"]
        assert env["LODESTAR_ROOT"] == str(platform.catalog_root)
        assert len(os.sched_getaffinity(pid)) == cpus  # the CPU share is enforced, not only announced


def test_lodestar_and_dask_are_ready_in_the_users_kernel(platform, alice_session):
    kernel = Kernel(platform, platform.alice[0], alice_session.token())
    try:
        out = kernel.run(
            "import os, lodestar\n"
            "print('engine', lodestar.sql('SELECT ang_sep(0, 0, 0, 1) AS d')['d'][0])\n"
            "print('root', os.environ['LODESTAR_ROOT'])\n"
            "print('threads', lodestar.sql('SELECT current_setting(\\'threads\\') AS t')['t'][0])  # the default engine\n"
            "from distributed import Client\n"
            "with Client(timeout=30) as c:\n"
            "    print('workers', len(c.scheduler_info()['workers']))\n"
            "    print('sum', c.submit(sum, [1, 2, 3]).result())\n"
        )
    finally:
        kernel.close()
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert float(lines["engine"]) == pytest.approx(1.0)
    assert lines["root"] == str(platform.catalog_root)
    assert lines["threads"] == "1"  # the small profile's one core reached the engine
    assert lines["workers"] == "1" and lines["sum"] == "6"  # the platform's Dask scheduler, pre-configured


def test_catalogs_api_lists_the_shared_catalogs(platform, alice_session):
    import lodestar

    if not hasattr(lodestar, "Catalogs"):
        pytest.skip("lodestar.Catalogs is not available in this build yet")
    kernel = Kernel(platform, platform.alice[0], alice_session.token())
    try:
        out = kernel.run("import lodestar; c = lodestar.Catalogs(); print(c.list()); print(c.load('tiny').count())")
    finally:
        kernel.close()
    listed, count = out.strip().splitlines()
    assert listed == str(lodestar.Catalogs(platform.catalog_root).list()) == "['tiny']"  # same as root sees, read as alice
    assert count == "100"


# --- files: private homes, read-only catalogs, example notebooks --------------------------


def test_homes_are_private(platform, alice_session):
    alice, bob = platform.alice[0], platform.bob[0]
    home = Path(pwd.getpwnam(alice).pw_dir)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    (home / "secret.txt").write_text("alice's notes\n")
    os.chown(home / "secret.txt", pwd.getpwnam(alice).pw_uid, -1)
    r = as_user(bob, "cat", str(home / "secret.txt"))
    assert r.returncode != 0 and "Permission denied" in r.stderr
    r = as_user(bob, "ls", str(home))
    assert r.returncode != 0 and "Permission denied" in r.stderr
    assert as_user(alice, "cat", str(home / "secret.txt")).stdout == "alice's notes\n"


def test_examples_are_copied_to_new_users(platform, alice_session):
    home = Path(pwd.getpwnam(platform.alice[0]).pw_dir)
    shipped = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    if not shipped:
        pytest.skip("no notebooks shipped yet")
    examples = home / "lodestar-examples"
    assert sorted(p.name for p in examples.glob("*.ipynb")) == shipped
    uid = pwd.getpwnam(platform.alice[0]).pw_uid
    assert all(p.stat().st_uid == uid for p in [examples, *examples.iterdir()])
    assert stat.S_IMODE(examples.stat().st_mode) == 0o700


def test_users_cannot_write_the_catalog_root_but_admins_can(platform):
    root = platform.catalog_root
    alice, carol = platform.alice[0], platform.carol[0]
    assert as_user(alice, "cat", str(root / "demo" / "README")).stdout == "a catalog\n"
    for target in (root / "new.txt", root / "demo" / "new.txt"):
        r = as_user(alice, "touch", str(target))
        assert r.returncode != 0 and "Permission denied" in r.stderr
    r = as_user(alice, "rm", "-f", str(root / "demo" / "README"))
    assert r.returncode != 0 and (root / "demo" / "README").exists()
    # The admin group may add catalogs.
    r = as_user(carol, "touch", str(root / "demo" / "added-by-admin"))
    assert r.returncode == 0, r.stderr


# --- culling and shutdown -----------------------------------------------------------------


def test_idle_servers_are_culled():
    p = Platform()
    try:
        p.start("--dask-workers", "0", "--idle-timeout", "15", "--cull-every", "5")
        s = HubSession(p)
        user = p.add_user("idle")
        assert s.login(*user).status_code == 302
        s.spawn("small")
        pid = server_pid(user[0])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and s.hub_api(f"/users/{user[0]}").json().get("servers"):
            time.sleep(1)
        assert not s.hub_api(f"/users/{user[0]}").json().get("servers"), p.log_tail()
        assert "idle-culler" in (p.state / "logs" / "jupyterhub.log").read_text()
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.2)
        assert not Path(f"/proc/{pid}").exists()
    finally:
        p.cleanup()


def test_add_user_refuses_bad_names():
    r = run_platform("add-user", "Bad Name!", "--password-stdin", input="x\n")
    assert r.returncode == 1 and "user name 'Bad Name!' is not valid" in r.stderr


def test_up_refuses_a_second_start_of_the_same_platform(platform):
    r = run_platform("up", "--state-dir", str(platform.state), "--catalog-root", str(platform.catalog_root), "--no-demo-data", "--port", "0")
    assert r.returncode == 1 and "already running" in r.stderr


def test_down_stops_everything_it_started(platform, alice_session, bob_session):
    from lodestar.commands.platform import alive, marked_processes

    before = marked_processes(platform.state)
    servers = [server_pid(platform.alice[0]), server_pid(platform.bob[0])]
    assert set(servers) <= set(before) and len(before) >= 5
    r = platform.stop()
    assert r.returncode == 0, r.stderr
    assert marked_processes(platform.state) == []
    assert [pid for pid in before if alive(pid)] == []
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", platform.settings["port"])) != 0


def test_up_preloads_the_demo_catalogs_read_only():
    p = Platform()
    try:
        p.start("--dask-workers", "0", "--demo-objects", "500", demo_data=True)
        import lodestar

        names = lodestar.Catalogs(p.catalog_root).list()
        assert {"ztf_objects", "ztf_detections", "gaia"} <= set(names)
        assert lodestar.Catalogs(p.catalog_root).load("ztf_objects").count() == 500
        user = p.add_user("reader")[0]
        some_file = next(f for f in (p.catalog_root / "ztf_objects").rglob("*") if f.is_file())
        assert as_user(user, "head", "-c", "4", str(some_file)).returncode == 0
        r = as_user(user, "touch", str(some_file))
        assert r.returncode != 0 and "Permission denied" in r.stderr
        # A second start keeps the catalogs (demo-data would replace them).
        p.stop()
        before = some_file.stat().st_mtime_ns
        r = run_platform("up", "--state-dir", str(p.state), "--catalog-root", str(p.catalog_root), "--port", "0", "--dask-workers", "0",
                         "--users-group", p.users_group, "--admin-group", p.admin_group, "--service-user", p.service_user)
        assert r.returncode == 0, r.stderr
        assert some_file.stat().st_mtime_ns == before
    finally:
        p.cleanup()
