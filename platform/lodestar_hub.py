"""JupyterHub pieces of the local Lodestar platform: the spawn options form (resource
profiles, like the seed's Figure 6) and a LocalProcessSpawner that applies the chosen
profile, points the server at the shared catalogs and the platform's Dask scheduler, and
gives new users the example notebooks. Loaded by platform/jupyterhub_config.py."""

from __future__ import annotations

import html
import json
import os
import pwd
import re
import shutil
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Dict, List, Unicode

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.I)


def memory_bytes(text: str) -> int:
    """'4G' / '512M' / '2GiB' -> bytes (binary units, as JupyterHub's mem_limit)."""
    m = _MEMORY.match(str(text))
    if not m:
        raise ValueError(f"memory must look like 512M, 4G or 2GiB, got {text!r}")
    return int(float(m.group(1)) * 1024 ** "BKMGT".index(m.group(2).upper() or "B"))


def load_profiles(path: str | os.PathLike) -> list[dict]:
    """The profiles of platform/profiles.json, checked: unique slugs, one default."""
    profiles = json.loads(Path(path).read_text())["profiles"]
    slugs = [p["slug"] for p in profiles]
    if not profiles or len(set(slugs)) != len(slugs):
        raise ValueError(f"{path}: profiles need unique slugs, got {slugs}")
    for p in profiles:
        if int(p["cpus"]) < 1 or int(p["dask_workers"]) < 0:
            raise ValueError(f"{path}: profile {p['slug']}: cpus must be >= 1 and dask_workers >= 0")
        memory_bytes(p["memory"])
    if sum(bool(p.get("default")) for p in profiles) != 1:
        raise ValueError(f"{path}: exactly one profile must be the default")
    return profiles


def render_options_form(profiles: list[dict], usable_cpus: int) -> str:
    rows = []
    for p in profiles:
        checked = " checked" if p.get("default") else ""
        cpus = min(int(p["cpus"]), usable_cpus)
        rows.append(
            f'<tr><td><input type="radio" name="profile" id="profile-{html.escape(p["slug"])}" '
            f'value="{html.escape(p["slug"])}"{checked}></td>'
            f'<td><label for="profile-{html.escape(p["slug"])}"><strong>{html.escape(p["display_name"])}</strong></label><br>'
            f'<small>{html.escape(p.get("description", ""))}</small></td>'
            f"<td>{cpus}</td><td>{html.escape(p['memory'])}</td><td>{int(p['dask_workers'])}</td></tr>"
        )
    return (
        '<div class="lodestar-profiles"><p>Choose the resources of your Lodestar server.</p>'
        '<table class="table table-striped" id="lodestar-profiles">'
        "<thead><tr><th></th><th>Profile</th><th>CPU cores</th><th>Memory</th><th>Dask workers</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


class LodestarSpawner(LocalProcessSpawner):
    """LocalProcessSpawner + resource profiles + Lodestar environment."""

    profiles = List(Dict(), config=True, help="Resource profiles (platform/profiles.json).")
    catalog_root = Unicode(config=True, help="The shared, read-only catalog root (LODESTAR_ROOT).")
    scheduler_address = Unicode("", config=True, help="The platform's Dask scheduler, tcp://127.0.0.1:PORT.")
    examples_dir = Unicode("", config=True, help="Notebooks copied to ~/lodestar-examples at a user's first start.")
    platform_state = Unicode("", config=True, help="State directory; marks every process so `platform down` finds it.")

    def _usable_cpus(self) -> list[int]:
        return sorted(os.sched_getaffinity(0))

    def _options_form_default(self):
        return render_options_form(self.profiles, len(self._usable_cpus()))

    def options_from_form(self, formdata):
        chosen = (formdata.get("profile") or [""])[0]
        if chosen not in {p["slug"] for p in self.profiles}:
            raise ValueError(f"unknown profile {chosen!r}; expected one of {', '.join(p['slug'] for p in self.profiles)}")
        return {"profile": chosen}

    def selected_profile(self) -> dict:
        slug = (self.user_options or {}).get("profile") or next(p["slug"] for p in self.profiles if p.get("default"))
        for p in self.profiles:
            if p["slug"] == slug:
                return p
        raise ValueError(f"unknown profile {slug!r}; expected one of {', '.join(p['slug'] for p in self.profiles)}")

    def _apply_profile(self) -> None:
        p = self.selected_profile()
        usable = self._usable_cpus()
        self._cpu_set = usable[: max(1, min(int(p["cpus"]), len(usable)))]
        self.cpu_limit = float(len(self._cpu_set))
        self.mem_limit = memory_bytes(p["memory"])
        threads = str(len(self._cpu_set))
        self.environment.update(
            {
                "LODESTAR_PROFILE": p["slug"],
                "LODESTAR_THREADS": threads,
                "LODESTAR_MEMORY_LIMIT": f"{self.mem_limit // 2**20}MiB",
                "LODESTAR_DASK_WORKERS": str(int(p["dask_workers"])),
                "OMP_NUM_THREADS": threads,
            }
        )

    def get_env(self):
        env = super().get_env()
        env["LODESTAR_ROOT"] = self.catalog_root
        if self.scheduler_address:
            # Dask's config: distributed.Client() with no address connects here.
            env["DASK_SCHEDULER_ADDRESS"] = self.scheduler_address
            env["LODESTAR_SCHEDULER"] = self.scheduler_address
            port = self.scheduler_address.rsplit(":", 1)[-1]
            env["DASK_DISTRIBUTED__DASHBOARD__LINK"] = "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status"
            env["LODESTAR_SCHEDULER_PORT"] = port
        if self.platform_state:
            env["LODESTAR_PLATFORM_STATE"] = self.platform_state
        return env

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        cpus = list(getattr(self, "_cpu_set", []))

        def preexec():
            if cpus:
                os.sched_setaffinity(0, cpus)  # the profile's cores: a hard limit for all threads
            os.umask(0o077)  # files the user creates are private by default
            become_user()

        return preexec

    def _copy_examples(self) -> None:
        """First start: copy the example notebooks into the user's (0700) home, owned by them."""
        if not self.examples_dir or not os.path.isdir(self.examples_dir):
            return
        entry = pwd.getpwnam(self.user.name)
        target = Path(entry.pw_dir) / "lodestar-examples"
        if target.exists():
            return
        shutil.copytree(self.examples_dir, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        for path in [target, *target.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
            path.chmod(0o700 if path.is_dir() else 0o600)

    async def start(self):
        self._apply_profile()
        self._copy_examples()
        self.log.info(
            "Starting %s with profile %s: cpus %s, memory %s",
            self.user.name,
            self.environment["LODESTAR_PROFILE"],
            self._cpu_set,
            self.environment["LODESTAR_MEMORY_LIMIT"],
        )
        return await super().start()
