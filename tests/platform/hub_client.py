"""Test helpers for the local platform: start/stop it with the real `lodestar platform`
command, create and delete Unix test users (prefix lstest-), log in through the hub like a
browser, spawn with a profile, and run code in a user's kernel over the Jupyter protocol.
Used by tests/python/test_platform_*.py."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def lodestar_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "lodestar.cli"]


def run_platform(*args: str, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "LODESTAR_PLATFORM_DIR": str(REPO / "platform")}
    return subprocess.run([*lodestar_cmd(), "platform", *args], capture_output=True, text=True, input=input, timeout=timeout, env=env)


def skip_reason() -> str | None:
    """Why the local platform cannot run here, or None."""
    if os.geteuid() != 0:
        return "the local platform tests need root (PAM logins, useradd, per-user servers)"
    for tool in ("useradd", "userdel", "groupadd", "groupdel", "chpasswd", "runuser"):
        if not shutil.which(tool):
            return f"{tool} is not available"
    if not (REPO / "platform" / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        return "configurable-http-proxy is not installed: run `npm ci --ignore-scripts --prefix platform`"
    # The platform hands this environment to unprivileged users and refuses when they cannot read it
    # (`lodestar platform up`'s own check), e.g. in a checkout under a private 0700 folder.
    import sys

    from lodestar.commands.platform import world_accessible

    for site in (p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir() and p.startswith(sys.prefix)):
        if not world_accessible(Path(site)):
            return f"the platform serves this environment to unprivileged users, but {site} is not readable by them (a parent folder is private)"
    return None


@dataclass
class Platform:
    """One running local platform with its own groups, service user and directories."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    workdir: Path = None
    users: list[str] = field(default_factory=list)
    settings: dict = None
    up_output: str = ""

    @property
    def users_group(self):
        return f"lstest-u-{self.tag}"

    @property
    def admin_group(self):
        return f"lstest-a-{self.tag}"

    @property
    def service_user(self):
        return f"lstest-d-{self.tag}"

    @property
    def state(self) -> Path:
        return self.workdir / "state"

    @property
    def catalog_root(self) -> Path:
        return self.workdir / "catalogs"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings['port']}"

    def start(self, *extra: str, demo_data: bool = False, prepare_catalogs=None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"lstest-{self.tag}-", dir="/tmp"))
        self.workdir.chmod(0o755)  # users must reach the catalog root below it
        self.catalog_root.mkdir()
        if prepare_catalogs:
            prepare_catalogs(self.catalog_root)
        args = ["up", "--state-dir", str(self.state), "--catalog-root", str(self.catalog_root), "--port", "0",
                "--users-group", self.users_group, "--admin-group", self.admin_group, "--service-user", self.service_user, *extra]
        if not demo_data:
            args.append("--no-demo-data")
        result = run_platform(*args)
        self.up_output = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"platform up failed ({result.returncode}):\n{self.up_output}\n{self.log_tail()}")
        self.settings = json.loads((self.state / "settings.json").read_text())

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join((self.state / "logs" / "jupyterhub.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def add_user(self, short: str, admin: bool = False, in_users_group: bool = True) -> tuple[str, str]:
        name = f"lstest-{self.tag}-{short}"
        password = secrets.token_urlsafe(12)
        self.users.append(name)
        if in_users_group:
            args = ["add-user", name, "--password-stdin", "--users-group", self.users_group, "--admin-group", self.admin_group]
            result = run_platform(*args, *(["--admin"] if admin else []), input=password + "\n")
            assert result.returncode == 0, result.stderr
        else:  # a machine account that is not a platform user
            subprocess.run(["useradd", "--create-home", name], check=True)
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        return name, password

    def stop(self) -> subprocess.CompletedProcess | None:
        if self.workdir is None:
            return None
        return run_platform("down", "--state-dir", str(self.state))

    def cleanup(self) -> None:
        """Stop everything, delete the test users (and homes), groups and directories."""
        try:
            self.stop()
        finally:
            for name in self.users:
                subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)  # by uid of a test account only
                subprocess.run(["userdel", "--remove", name], capture_output=True)
            subprocess.run(["userdel", self.service_user], capture_output=True)
            for group in (self.users_group, self.admin_group):
                subprocess.run(["groupdel", group], capture_output=True)
            if self.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)


class HubSession:
    """A browser-like session: cookies, the hub's XSRF token, OAuth to the user's server."""

    def __init__(self, platform: Platform):
        self.p = platform
        self.s = requests.Session()
        self.user = None

    def xsrf(self, path: str = "/hub/") -> str:
        for c in self.s.cookies:
            if c.name == "_xsrf" and c.path == path:
                return c.value
        raise KeyError(f"no _xsrf cookie for {path}")

    def login(self, user: str, password: str) -> requests.Response:
        self.s.get(self.p.base + "/hub/login").raise_for_status()
        r = self.s.post(self.p.base + "/hub/login", data={"username": user, "password": password, "_xsrf": self.xsrf()}, allow_redirects=False)
        if r.status_code == 302:
            self.user = user
        return r

    def spawn(self, profile: str, timeout: float = 120) -> None:
        r = self.s.post(self.p.base + "/hub/spawn", data={"profile": profile, "_xsrf": self.xsrf()}, allow_redirects=False)
        assert r.status_code == 302, (r.status_code, r.text[:500])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.hub_api(f"/users/{self.user}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise AssertionError(f"server of {self.user} not ready in {timeout}s\n{self.p.log_tail()}")

    def hub_api(self, path: str, method: str = "GET", **kwargs) -> requests.Response:
        headers = {"X-XSRFToken": self.xsrf()}
        return self.s.request(method, self.p.base + "/hub/api" + path, headers=headers, **kwargs)

    def token(self) -> str:
        r = self.hub_api(f"/users/{self.user}/tokens", "POST", json={"expires_in": 900, "note": "platform test"})
        r.raise_for_status()
        return r.json()["token"]


def server_pid(user: str) -> int:
    """The pid of the user's single-user server (a process of that uid running jupyterhub.singleuser)."""
    uid = pwd.getpwnam(user).pw_uid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid and b"jupyterhub.singleuser" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                pass
    raise LookupError(f"no server process of {user}")


def process_env(pid: int) -> dict:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


class Kernel:
    """A kernel in a user's server, driven over the Jupyter REST + websocket protocol."""

    def __init__(self, platform: Platform, user: str, token: str):
        import websocket

        self.url = f"{platform.base}/user/{user}"
        self.headers = {"Authorization": f"token {token}"}
        r = requests.post(self.url + "/api/kernels", json={"name": "python3"}, headers=self.headers)
        r.raise_for_status()
        self.id = r.json()["id"]
        ws_url = self.url.replace("http://", "ws://") + f"/api/kernels/{self.id}/channels"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=120)
        self.session = uuid.uuid4().hex

    def run(self, code: str, timeout: float = 120) -> str:
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": self.session, "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise RuntimeError("kernel error: " + "\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
        raise TimeoutError(f"no answer from the kernel in {timeout}s")

    def close(self):
        try:
            self.ws.close()
        finally:
            requests.delete(self.url + f"/api/kernels/{self.id}", headers=self.headers)
