"""Run the local science platform (JupyterHub, JupyterLab, Dask) on 127.0.0.1: up, down, status, add-user."""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..processes import pid_alive

DEFAULT_STATE_DIR = "/srv/lodestar/platform"
DEFAULT_CATALOG_ROOT = "/srv/lodestar/catalogs"
USERS_GROUP = "lodestar-users"
ADMIN_GROUP = "lodestar-admin"
SERVICE_USER = "lodestar-dask"
MARKER = "LODESTAR_PLATFORM_STATE"  # in the environment of every process the platform starts
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")


class PlatformError(Exception):
    """A problem the user can fix; printed without a traceback."""


# --- where things are -------------------------------------------------------------------


def platform_dir(explicit: str | None = None) -> Path:
    """The repository's platform/ folder (config, profiles, proxy), found from an option,
    LODESTAR_PLATFORM_DIR, this file's real location (dev builds symlink it) or the cwd."""
    candidates = [explicit, os.environ.get("LODESTAR_PLATFORM_DIR")]
    candidates.append(str(Path(os.path.realpath(__file__)).parents[3] / "platform"))
    candidates.append(str(Path.cwd() / "platform"))
    for c in candidates:
        if c and (Path(c) / "jupyterhub_config.py").is_file():
            return Path(c).resolve()
    raise PlatformError("cannot find the platform/ folder of the Lodestar sources; pass --platform-dir or set LODESTAR_PLATFORM_DIR")


def world_accessible(path: Path) -> bool:
    """Whether an unprivileged user can execute `path` (every parent traversable)."""
    real = Path(os.path.realpath(path))
    if not real.stat().st_mode & 0o001:
        return False
    return all(p.stat().st_mode & 0o001 for p in real.parents)


def user_python(state: Path) -> str:
    """A Python that the users' servers and the Dask workers (unprivileged) can run, with
    this environment's packages. Normally this interpreter; when it lives somewhere users
    cannot enter (e.g. a pyenv build under /root), a small venv of the system's Python of
    the same version whose site-packages point at this environment's."""
    if world_accessible(Path(sys.executable)):
        return sys.executable
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin")
    if not base or not world_accessible(Path(base)):
        raise PlatformError(
            f"{sys.executable} is not reachable by unprivileged users and no system python{version} exists; "
            "install the environment somewhere world-readable (e.g. /opt/lodestar/.venv)"
        )
    public = state / "public"  # the one world-readable corner of the state directory
    public.mkdir(exist_ok=True)
    public.chmod(0o755)
    runtime = public / "user-runtime"
    python = runtime / "bin" / "python"
    if not python.exists():
        subprocess.run([base, "-m", "venv", "--without-pip", str(runtime)], check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir() and p.startswith(sys.prefix)]
    for p in ours:
        if not world_accessible(Path(p)):
            raise PlatformError(f"{p} is not readable by unprivileged users")
    (Path(site.stdout.strip()) / "lodestar-environment.pth").write_text("\n".join(ours) + "\n")
    for p in [runtime, *runtime.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o055 if p.is_dir() else p.stat().st_mode | 0o044)
    return str(python)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- accounts and permissions ----------------------------------------------------------


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise PlatformError(f"{what} must run as root: PAM logins, per-user servers and account changes need it")


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True)
        return grp.getgrnam(name).gr_gid


def ensure_service_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def seal_catalog_root(root: Path, admin_gid: int) -> None:
    """Readable by everyone, writable only by root and the admin group (setgid dirs keep
    new files in the group)."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        os.chown(path, 0, admin_gid)
        path.chmod(0o2775 if path.is_dir() else 0o664)
    for parent in root.parents:  # users must be able to reach it
        if parent.stat().st_mode & 0o005 != 0o005:
            raise PlatformError(f"{parent} is not traversable by users; the catalog root {root} would be unreachable")


def add_user(name: str, password: str | None, admin: bool, users_group: str, admin_group: str) -> str:
    require_root("add-user")
    if not USERNAME.match(name):
        raise PlatformError(f"user name {name!r} is not valid: expected lowercase letters, digits, '-' or '_', starting with a letter")
    ensure_group(users_group)
    ensure_group(admin_group)
    groups = [users_group] + ([admin_group] if admin else [])
    try:
        pwd.getpwnam(name)
        subprocess.run(["usermod", "-a", "-G", ",".join(groups), name], check=True)
        action = "updated"
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", ",".join(groups), name], check=True)
        action = "created"
    if password is not None:
        if not password or "\n" in password or ":" in name:
            raise PlatformError("the password must be one non-empty line")
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)  # private homes: the seed's UID-based isolation
    return f"{action} user {name} (groups: {', '.join(groups)}; home {home} mode 0700)"


# --- processes --------------------------------------------------------------------------


def start(cmd: list[str], log: Path, env: dict, cwd: Path, user: pwd.struct_passwd | None = None) -> subprocess.Popen:
    """Start a process in its own session (its own process group), logging to `log`;
    files it creates are private (umask 077)."""
    kwargs = {"umask": 0o077}
    if user is not None:
        kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True, **kwargs)


alive = pid_alive  # the shared helper (lodestar.processes)


def marked_processes(state: Path) -> list[int]:
    """Every process whose environment carries this platform's marker (servers, kernels...)."""
    mark = f"{MARKER}={state}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if mark in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def stop_pids(pids: list[int], grace: float = 15.0) -> None:
    def signal_all(sig):
        for pid in pids:
            for kill in (lambda: os.killpg(pid, sig), lambda: os.kill(pid, sig)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    signal_all(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PlatformError(f"{proc.args[0]} exited with {proc.returncode}; its log {log} ends with:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise PlatformError(f"{url} did not answer within {timeout:.0f} s; log {log}:\n{tail(log)}")


def wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PlatformError(f"{' '.join(proc.args[:3])} exited with {proc.returncode}; log {log}:\n{tail(log)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise PlatformError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s; log {log}:\n{tail(log)}")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- secrets ----------------------------------------------------------------------------


def ensure_secret(path: Path, nbytes: int = 32) -> None:
    """Generate a random secret at first start; always leave the file 0600, owned by root."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(nbytes) + "\n")
    path.chmod(0o600)


# --- commands ---------------------------------------------------------------------------


DEMO_CATALOGS = ("ztf_objects", "ztf_detections", "gaia")  # what the example notebooks load by name


def demo_data(root: Path, env: dict, objects: int | None) -> None:
    """Pre-load the demo catalogs with `lodestar demo-data ROOT`, unless they are there already
    (demo-data replaces them, and admins may have curated the root since)."""
    if all((root / name).is_dir() for name in DEMO_CATALOGS):
        return
    cmd = [sys.executable, "-m", "lodestar.cli", "demo-data", str(root), *(["--objects", str(objects)] if objects else [])]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise PlatformError(
            "could not pre-load the demo catalogs: `lodestar demo-data ROOT` failed "
            f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()[-800:]}\n"
            "Start with --no-demo-data to serve the catalog root as it is."
        )


def cmd_up(args) -> int:
    require_root("platform up")
    state = Path(args.state_dir).resolve()
    pids_file = state / "pids.json"
    if pids_file.exists() and any(alive(p) for p in json.loads(pids_file.read_text()).values()):
        raise PlatformError(f"the platform of {state} is already running (`lodestar platform down --state-dir {state}` first)")
    pdir = platform_dir(args.platform_dir)
    proxy = pdir / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        raise PlatformError(f"configurable-http-proxy is not installed: run `npm ci --ignore-scripts --prefix {pdir}` (or `make platform`)")
    state.mkdir(parents=True, exist_ok=True)
    # 0711: others may traverse to the named world-readable parts (public/, the Dask service
    # account's dask/) but not list; everything else inside is 0600/0700 (umask 077).
    state.chmod(0o711)
    (state / "logs").mkdir(exist_ok=True)
    (state / "logs").chmod(0o700)

    users_gid = ensure_group(args.users_group)
    admin_gid = ensure_group(args.admin_group)
    del users_gid
    service = ensure_service_user(args.service_user)

    root = Path(args.catalog_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    for parent in reversed(root.parents):  # e.g. /srv/lodestar: reachable, not writable
        if parent.stat().st_uid == 0 and parent.stat().st_mode & 0o005 != 0o005 and str(parent).startswith("/srv"):
            parent.chmod(parent.stat().st_mode | 0o005)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "LODESTAR_PLATFORM"))}
    base_env[MARKER] = str(state)
    if not args.no_demo_data:
        demo_data(root, base_env, args.demo_objects)
    seal_catalog_root(root, admin_gid)

    ensure_secret(state / "jupyterhub_cookie_secret")
    ensure_secret(state / "proxy_auth_token")
    python = user_python(state)

    port = args.port or free_port()
    settings = {
        "state_dir": str(state),
        "ip": args.ip,
        "port": port,
        "hub_port": free_port(),
        "proxy_api_port": free_port(),
        "proxy_command": str(proxy),
        "proxy_token_file": str(state / "proxy_auth_token"),
        "cookie_secret_file": str(state / "jupyterhub_cookie_secret"),
        "catalog_root": str(root),
        "examples_dir": str(Path(args.examples_dir).resolve() if args.examples_dir else pdir.parent / "notebooks"),
        "users_group": args.users_group,
        "admin_group": args.admin_group,
        "service_user": args.service_user,
        "user_python": python,
        "jupyter_path": str(Path(sys.prefix) / "share" / "jupyter"),
        "jupyter_config_path": str(Path(sys.prefix) / "etc" / "jupyter"),
        "idle_timeout": args.idle_timeout,
        "cull_every": args.cull_every,
    }
    pids = {}
    procs = []
    try:
        if args.dask_workers > 0:
            dask_dir = state / "dask"
            dask_dir.mkdir(exist_ok=True)
            os.chown(dask_dir, service.pw_uid, service.pw_gid)
            dask_dir.chmod(0o700)
            dask_env = {**base_env, "HOME": str(dask_dir), "LODESTAR_ROOT": str(root), "DASK_TEMPORARY_DIRECTORY": str(dask_dir)}
            sport, dport = free_port(), free_port()
            log = state / "logs" / "dask-scheduler.log"
            sched = start(
                [python, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(sport), "--dashboard-address", f"127.0.0.1:{dport}"],
                log, dask_env, dask_dir, service,
            )
            procs.append(sched)
            pids["dask-scheduler"] = sched.pid
            wait_port(sport, sched, log, 60)
            settings["scheduler_address"] = f"tcp://127.0.0.1:{sport}"
            settings["dashboard_port"] = dport
            log = state / "logs" / "dask-workers.log"
            workers = start(
                [python, "-m", "distributed.cli.dask_worker", settings["scheduler_address"], "--nworkers", str(args.dask_workers),
                 "--nthreads", "1", "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--local-directory", str(dask_dir)],
                log, dask_env, dask_dir, service,
            )
            procs.append(workers)
            pids["dask-workers"] = workers.pid
        settings_file = state / "settings.json"
        settings_file.write_text(json.dumps(settings, indent=2))
        settings_file.chmod(0o600)
        hub_env = {**base_env, "LODESTAR_PLATFORM_SETTINGS": str(settings_file)}
        log = state / "logs" / "jupyterhub.log"
        hub = start([sys.executable, "-m", "jupyterhub", "-f", str(pdir / "jupyterhub_config.py")], log, hub_env, state)
        procs.append(hub)
        pids["jupyterhub"] = hub.pid
        pids_file.write_text(json.dumps(pids))
        pids_file.chmod(0o600)
        wait_http(f"http://127.0.0.1:{port}/hub/health" if args.ip in ("127.0.0.1", "0.0.0.0", "") else f"http://{args.ip}:{port}/hub/health", hub, log, args.timeout)
        if args.dask_workers > 0:
            wait_workers(settings["scheduler_address"], args.dask_workers, procs[1], state / "logs" / "dask-workers.log")
    except BaseException:
        stop_pids([p.pid for p in procs])
        pids_file.unlink(missing_ok=True)
        raise
    print(f"Lodestar platform is up: http://{args.ip}:{port}/  (catalogs: {root}; state: {state})")
    if "scheduler_address" in settings:
        print(f"Dask scheduler {settings['scheduler_address']} with {args.dask_workers} workers")
    print(f"Add users with: lodestar platform add-user NAME --password-stdin; stop with: lodestar platform down --state-dir {state}")
    return 0


def wait_workers(address: str, n: int, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    import warnings

    from distributed import Client

    with warnings.catch_warnings():
        # The workers may run the system's build of the same Python version (see user_python).
        warnings.simplefilter("ignore")
        client = Client(address, timeout=30)
    with client:
        deadline = time.monotonic() + timeout
        while len(client.scheduler_info()["workers"]) < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise PlatformError(f"Dask workers did not all start; log {log}:\n{tail(log)}")
            time.sleep(0.3)


def cmd_down(args) -> int:
    require_root("platform down")
    state = Path(args.state_dir).resolve()
    pids_file = state / "pids.json"
    started = list(json.loads(pids_file.read_text()).values()) if pids_file.exists() else []
    # The hub first (it stops the users' servers and its proxy), then Dask.
    stop_pids([p for p in started[::-1] if alive(p)])
    leftovers = marked_processes(state)
    stop_pids(leftovers, grace=5)
    pids_file.unlink(missing_ok=True)
    print(f"Lodestar platform of {state} stopped ({len(started)} started processes, {len(leftovers)} left over)")
    return 0


def cmd_status(args) -> int:
    state = Path(args.state_dir).resolve()
    pids_file = state / "pids.json"
    if not pids_file.exists():
        print(f"Lodestar platform of {state}: not running")
        return 1
    pids = json.loads(pids_file.read_text())
    settings = json.loads((state / "settings.json").read_text()) if os.access(state / "settings.json", os.R_OK) else {}
    running = {name: alive(pid) for name, pid in pids.items()}
    print(json.dumps({"state_dir": str(state), "url": f"http://{settings.get('ip')}:{settings.get('port')}/", "processes": running}, indent=2))
    return 0 if all(running.values()) else 1


def cmd_add_user(args) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    print(add_user(args.name, password, args.admin, args.users_group, args.admin_group))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lodestar platform", description=__doc__)
    sub = p.add_subparsers(dest="action", required=True)

    def common(sp):
        sp.add_argument("--state-dir", default=os.environ.get("LODESTAR_PLATFORM_STATE_DIR", DEFAULT_STATE_DIR),
                        help=f"secrets, logs, database and process ids (default {DEFAULT_STATE_DIR})")

    def groups(sp):
        sp.add_argument("--users-group", default=USERS_GROUP, help=f"Unix group allowed to log in (default {USERS_GROUP})")
        sp.add_argument("--admin-group", default=ADMIN_GROUP, help=f"Unix group of hub admins and catalog writers (default {ADMIN_GROUP})")

    up = sub.add_parser("up", help="start the hub, the proxy and Dask; returns when they answer")
    common(up)
    groups(up)
    up.add_argument("--catalog-root", default=os.environ.get("LODESTAR_PLATFORM_CATALOGS", DEFAULT_CATALOG_ROOT),
                    help=f"the shared catalog root (default {DEFAULT_CATALOG_ROOT})")
    up.add_argument("--ip", default="127.0.0.1", help="address of the public proxy (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8000, help="public port (0: any free port; default 8000)")
    up.add_argument("--dask-workers", type=int, default=2, help="workers of the platform's Dask cluster (0: no Dask)")
    up.add_argument("--idle-timeout", type=int, default=3600, help="seconds of inactivity before a server is culled")
    up.add_argument("--cull-every", type=int, default=300, help="seconds between idle checks")
    up.add_argument("--service-user", default=SERVICE_USER, help=f"unprivileged account running Dask (default {SERVICE_USER})")
    up.add_argument("--no-demo-data", action="store_true", help="do not run `lodestar demo-data` on the catalog root")
    up.add_argument("--demo-objects", type=int, help="size of the demo survey (passed to `lodestar demo-data --objects`)")
    up.add_argument("--platform-dir", help="the platform/ folder of the sources (found automatically)")
    up.add_argument("--examples-dir", help="notebooks copied to new users (default: notebooks/ of the sources)")
    up.add_argument("--timeout", type=float, default=120, help="seconds to wait for the hub")
    up.set_defaults(run=cmd_up)

    down = sub.add_parser("down", help="stop everything `up` started, including users' servers")
    common(down)
    down.set_defaults(run=cmd_down)

    status = sub.add_parser("status", help="show whether the platform's processes run")
    common(status)
    status.set_defaults(run=cmd_status)

    au = sub.add_parser("add-user", help="create (or update) a Unix account that may log in")
    au.add_argument("name")
    au.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    au.add_argument("--admin", action="store_true", help="also make the user a hub admin and catalog writer")
    groups(au)
    au.set_defaults(run=cmd_add_user)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "port", 0) and not 0 <= args.port <= 65535:
        print(f"lodestar platform: --port must be within 0..65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except PlatformError as e:
        print(f"lodestar platform: {e}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as e:
        print(f"lodestar platform: {' '.join(map(str, e.cmd))} failed with exit code {e.returncode}", file=sys.stderr)
        return 1
