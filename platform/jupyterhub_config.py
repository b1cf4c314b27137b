"""JupyterHub configuration of the local Lodestar platform.

`lodestar platform up` writes the settings (ports, paths, secrets' files) to a JSON file
in its state directory and starts `jupyterhub -f platform/jupyterhub_config.py` with
LODESTAR_PLATFORM_SETTINGS pointing at it. Everything listens on 127.0.0.1 unless the
settings say otherwise. Users are the machine's Unix accounts in the users' group
(PAM); each server runs as its user (LocalProcessSpawner)."""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lodestar_hub import LodestarSpawner, load_profiles  # noqa: E402

c = get_config()  # noqa: F821 (provided by JupyterHub)
settings = json.loads(Path(os.environ["LODESTAR_PLATFORM_SETTINGS"]).read_text())
state = Path(settings["state_dir"])

# --- network: the public proxy port, the hub's internal API, the proxy's API --------------
c.JupyterHub.ip = settings["ip"]
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy_command"]]
c.ConfigurableHTTPProxy.auth_token = Path(settings["proxy_token_file"]).read_text().strip()
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.should_start = True

# --- state and secrets (generated at first start, mode 0600) -----------------------------
c.JupyterHub.cookie_secret_file = settings["cookie_secret_file"]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # `platform down` stops the users' servers too
c.JupyterHub.cleanup_proxy = True

# --- who may log in: Unix accounts of the users' group; admins by group ----------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {settings["users_group"]}
c.PAMAuthenticator.admin_groups = {settings["admin_group"]}
c.PAMAuthenticator.blocked_users = {"root", settings["service_user"]}
c.PAMAuthenticator.open_sessions = False
c.JupyterHub.admin_access = False  # admins manage servers but cannot enter other users' servers

# --- the users' servers --------------------------------------------------------------
c.JupyterHub.spawner_class = LodestarSpawner
c.LodestarSpawner.profiles = load_profiles(HERE / "profiles.json")
c.LodestarSpawner.catalog_root = settings["catalog_root"]
c.LodestarSpawner.scheduler_address = settings.get("scheduler_address", "")
c.LodestarSpawner.examples_dir = settings["examples_dir"]
c.LodestarSpawner.platform_state = str(state)
c.LodestarSpawner.cmd = [settings["user_python"], "-m", "jupyterhub.singleuser"]
c.LodestarSpawner.default_url = "/lab"
c.LodestarSpawner.ip = "127.0.0.1"
c.LodestarSpawner.notebook_dir = "~"
c.LodestarSpawner.http_timeout = 120
c.LodestarSpawner.start_timeout = 180
# The servers may run a different interpreter (see user_python in the platform command):
# point Jupyter at the environment's extensions, server configuration and JupyterLab assets.
jupyter_env = {
    "JUPYTER_PATH": settings.get("jupyter_path"),
    "JUPYTER_CONFIG_PATH": settings.get("jupyter_config_path"),
    "JUPYTERLAB_DIR": settings.get("jupyter_path") and str(Path(settings["jupyter_path"]) / "lab"),
}
c.LodestarSpawner.environment = {k: v for k, v in jupyter_env.items() if v}
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH"]

# --- idle servers are culled (jupyterhub-idle-culler as a hub service) ---------------
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={int(settings['idle_timeout'])}",
            f"--cull-every={int(settings['cull_every'])}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
c.JupyterHub.last_activity_interval = min(300, max(5, int(settings["cull_every"])))
