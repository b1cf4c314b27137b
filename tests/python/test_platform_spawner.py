"""The local platform's hub pieces without starting anything: the profiles file, the spawn
form, the form -> options -> limits/environment path of LodestarSpawner, the hub
configuration loaded by JupyterHub's own config loader, and the platform command's
argument checks."""

import json
import os
import sys

import pytest

from conftest import REPO

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (requirements.in)")
sys.path.insert(0, str(REPO / "platform"))
import lodestar_hub  # noqa: E402
from lodestar_hub import LodestarSpawner, load_profiles, memory_bytes, render_options_form  # noqa: E402

PROFILES = REPO / "platform" / "profiles.json"


@pytest.mark.parametrize("text, expected", [("512M", 512 * 2**20), ("4G", 4 * 2**30), ("2GiB", 2 * 2**30), ("1.5G", 3 * 2**29), ("100", 100)])
def test_memory_bytes(text, expected):
    assert memory_bytes(text) == expected


@pytest.mark.parametrize("bad", ["", "four gigs", "4X", "-1G"])
def test_memory_bytes_refuses_nonsense(bad):
    with pytest.raises(ValueError, match="memory must look like"):
        memory_bytes(bad)


def test_shipped_profiles_are_valid():
    profiles = load_profiles(PROFILES)
    assert [p["slug"] for p in profiles] == ["small", "medium", "large"]
    assert sum(bool(p.get("default")) for p in profiles) == 1


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda ps: ps[1].update(slug="small"), "unique slugs"),
        (lambda ps: ps[0].update(default=True), "exactly one profile"),
        (lambda ps: ps[0].update(cpus=0), "cpus must be >= 1"),
        (lambda ps: ps[0].update(memory="lots"), "memory must look like"),
    ],
)
def test_bad_profiles_are_refused(tmp_path, change, message):
    data = json.loads(PROFILES.read_text())
    change(data["profiles"])
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        load_profiles(path)


def test_form_lists_every_profile_with_its_resources():
    profiles = load_profiles(PROFILES)
    form = render_options_form(profiles, usable_cpus=2)
    for p in profiles:
        assert f'value="{p["slug"]}"' in form and p["memory"] in form
    assert form.count("checked") == 1 and 'value="medium" checked' in form
    # CPU counts are capped at what the machine has.
    assert "<td>2</td><td>8G</td><td>4</td>" in form  # large: 4 cores wanted, 2 usable; 8G; 4 workers


def test_form_escapes_profile_text():
    form = render_options_form([{"slug": "x", "display_name": "<script>alert(1)</script>", "cpus": 1, "memory": "1G", "dask_workers": 0,
                                 "default": True}], usable_cpus=1)
    assert "<script>" not in form and "&lt;script&gt;" in form


def make_spawner(profile_slug=None, **config):
    class User:
        name = "someone"
        url = "/user/someone/"

    spawner = LodestarSpawner(profiles=load_profiles(PROFILES), catalog_root="/srv/cat", scheduler_address="tcp://127.0.0.1:8786",
                              platform_state="/srv/state", **config)
    spawner.user = User()
    if profile_slug:
        spawner.user_options = spawner.options_from_form({"profile": [profile_slug]})
    return spawner


def test_form_choice_becomes_limits_and_environment(monkeypatch):
    monkeypatch.setattr(LodestarSpawner, "_usable_cpus", lambda self: [0, 1, 2, 3])
    spawner = make_spawner("medium")
    spawner._apply_profile()
    assert spawner.cpu_limit == 2.0 and spawner.mem_limit == 4 * 2**30
    assert spawner._cpu_set == [0, 1]
    env = spawner.environment
    assert env["LODESTAR_PROFILE"] == "medium" and env["LODESTAR_THREADS"] == "2" and env["LODESTAR_MEMORY_LIMIT"] == "4096MiB"
    assert env["LODESTAR_DASK_WORKERS"] == "2"


def test_profiles_are_capped_by_the_machine(monkeypatch):
    monkeypatch.setattr(LodestarSpawner, "_usable_cpus", lambda self: [0, 1])
    spawner = make_spawner("large")
    spawner._apply_profile()
    assert spawner._cpu_set == [0, 1] and spawner.environment["LODESTAR_THREADS"] == "2"


def test_no_choice_means_the_default_profile(monkeypatch):
    monkeypatch.setattr(LodestarSpawner, "_usable_cpus", lambda self: [0])
    spawner = make_spawner()
    spawner._apply_profile()
    assert spawner.environment["LODESTAR_PROFILE"] == "medium"


def test_unknown_form_value_is_refused():
    with pytest.raises(ValueError, match="unknown profile 'huge'; expected one of small, medium, large"):
        make_spawner("huge")


def test_hub_configuration_loads(tmp_path, monkeypatch):
    """platform/jupyterhub_config.py through JupyterHub's own loader, with made-up settings."""
    from jupyterhub.app import JupyterHub

    (tmp_path / "token").write_text("t" * 64)
    settings = {
        "state_dir": str(tmp_path), "ip": "127.0.0.1", "port": 18000, "hub_port": 18001, "proxy_api_port": 18002,
        "proxy_command": "/bin/false", "proxy_token_file": str(tmp_path / "token"), "cookie_secret_file": str(tmp_path / "cookie"),
        "catalog_root": "/srv/cat", "examples_dir": str(REPO / "notebooks"), "users_group": "g-users", "admin_group": "g-admin",
        "service_user": "svc", "user_python": sys.executable, "idle_timeout": 600, "cull_every": 60,
        "scheduler_address": "tcp://127.0.0.1:8786",
    }
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    monkeypatch.setenv("LODESTAR_PLATFORM_SETTINGS", str(tmp_path / "settings.json"))
    hub = JupyterHub()
    hub.load_config_file(str(REPO / "platform" / "jupyterhub_config.py"))
    assert hub.ip == "127.0.0.1" and hub.hub_ip == "127.0.0.1" and hub.port == 18000
    assert hub.authenticator_class.__name__ == "PAMAuthenticator"
    assert hub.spawner_class is lodestar_hub.LodestarSpawner or hub.spawner_class.__name__ == "LodestarSpawner"
    (service,) = hub.services
    assert service["name"] == "idle-culler" and "--timeout=600" in service["command"] and "--cull-every=60" in service["command"]
    assert hub.config.PAMAuthenticator.allowed_groups == {"g-users"}
    assert "root" in hub.config.PAMAuthenticator.blocked_users
    assert hub.config.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18002"


def test_platform_command_checks_its_arguments():
    from lodestar.commands import platform

    assert platform.__doc__.strip().count("\n") == 0
    assert platform.main(["up", "--port", "70000"]) == 2
    with pytest.raises(SystemExit):
        platform.main(["sideways"])


def test_platform_commands_need_root(monkeypatch, capsys):
    from lodestar.commands import platform

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert platform.main(["up", "--state-dir", "/nonexistent"]) == 1
    assert "must run as root" in capsys.readouterr().err
