"""The cloud deployment files (deploy/): yamllint, JSON-schema validation against the
charts' and operator's own schemas (../shared/reference/k8s-schemas), the KubeSpawner and
OAuthenticator settings loaded into the real classes, and the Dockerfile built from the
same steps as the set-up."""

import asyncio
import copy
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO, shared_path

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (requirements.in)")

DEPLOY = REPO / "deploy"
VALUES = DEPLOY / "helm" / "values.yaml"
DASKCLUSTER = DEPLOY / "k8s" / "daskcluster.yaml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"


def load_values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def z2jh_schema_for_overrides() -> dict:
    """The zero-to-jupyterhub values schema, as it applies to a values *override* file.

    helm merges our file over the chart's default values.yaml, which supplies every
    required map key; so `required` is dropped along map paths. Lists replace the
    chart's lists whole, so `required` inside array items (e.g. profileList entries,
    tolerations) is kept. Types, enums and additionalProperties: false stay in force."""
    schema = yaml.safe_load(shared_path("reference", "k8s-schemas", "zero-to-jupyterhub.values.schema.yaml").read_text())

    def relax(node, in_list=False):
        if isinstance(node, dict):
            return {k: relax(v, in_list or k == "items") for k, v in node.items() if not (k == "required" and not in_list)}
        if isinstance(node, list):
            return [relax(v, in_list) for v in node]
        return node

    return relax(schema)


def daskcluster_schema() -> dict:
    """The DaskCluster v1 openAPIV3Schema, made strict: the API server silently prunes
    unknown fields of a structural schema, so an unknown (misspelt) field is an error here."""
    crd = yaml.safe_load(shared_path("reference", "k8s-schemas", "dask-kubernetes.daskcluster.crd.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def strict(node):
        if isinstance(node, dict):
            node = {k: strict(v) for k, v in node.items()}
            if "properties" in node and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [strict(v) for v in node]
        return node

    schema = strict(schema)
    for implicit in ("apiVersion", "kind", "metadata"):  # every Kubernetes object has them
        schema["properties"].setdefault(implicit, {"type": "object" if implicit == "metadata" else "string"})
    return schema


def errors(schema: dict, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]


# --- yamllint -------------------------------------------------------------------------


def test_deploy_yaml_passes_yamllint():
    pytest.importorskip("yamllint", reason="yamllint is not installed (requirements.in)")
    files = sorted(str(p) for p in DEPLOY.rglob("*.yaml"))
    assert len(files) >= 5, files
    result = subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "-f", "parsable", "-c", str(DEPLOY / ".yamllint.yaml"), *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_catches_a_broken_file(tmp_path):
    pytest.importorskip("yamllint")
    bad = tmp_path / "bad.yaml"
    bad.write_text("---\nhub:\n  config: {a: 1, a: 2}\n")  # duplicated key
    result = subprocess.run([sys.executable, "-m", "yamllint", "-c", str(DEPLOY / ".yamllint.yaml"), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "duplication" in result.stdout


# --- zero-to-jupyterhub values ---------------------------------------------------------


def test_helm_values_validate_against_the_z2jh_schema():
    assert errors(z2jh_schema_for_overrides(), load_values()) == []


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda v: v["singleuser"].__setitem__("profilelist", []), "'profilelist' was unexpected"),
        (lambda v: v["cull"].__setitem__("timeout", "an hour"), "is not of type"),
        (lambda v: v["singleuser"]["storage"].__setitem__("type", "nfs"), "is not one of"),
        (lambda v: v["scheduling"]["userPlaceholder"].__setitem__("replicas", "two"), "is not of type"),
    ],
)
def test_the_schema_check_catches_mistakes(mutate, expected):
    values = load_values()
    mutate(values)
    found = errors(z2jh_schema_for_overrides(), values)
    assert any(expected in e for e in found), found


def test_helm_values_have_the_platform_features():
    v = load_values()
    su = v["singleuser"]
    profiles = su["profileList"]
    assert len(profiles) >= 4
    assert sum(1 for p in profiles if p.get("default")) == 1
    # Figure 6: every profile names its instance type and hourly cost, and pins that node type.
    for p in profiles:
        ov = p["kubespawner_override"]
        itype = ov["node_selector"]["node.kubernetes.io/instance-type"]
        cost = ov["environment"]["LODESTAR_HOURLY_COST_USD"]
        assert itype in p["display_name"] and f"${cost}/hour" in p["display_name"], p["display_name"]
        assert float(cost) > 0
        assert {"LODESTAR_THREADS", "LODESTAR_MEMORY_LIMIT", "LODESTAR_DASK_WORKERS"} <= set(ov["environment"])
    gpu = [p for p in profiles if "nvidia.com/gpu" in p["kubespawner_override"].get("extra_resource_limits", {})]
    assert gpu and "GPU" in gpu[0]["display_name"]
    sched = v["scheduling"]
    assert sched["userPlaceholder"]["enabled"] and sched["podPriority"]["enabled"]
    assert sched["podPriority"]["userPlaceholderPriority"] < sched["podPriority"]["defaultPriority"]
    assert v["cull"]["enabled"] and v["cull"]["timeout"] > 0
    assert v["hub"]["config"]["JupyterHub"]["authenticator_class"] == "github"
    assert v["hub"]["config"]["GitHubOAuthenticator"]["allowed_organizations"]
    assert su["storage"]["type"] == "static" and "{username}" in su["storage"]["static"]["subPath"]
    mounts = {m["mountPath"]: m for m in su["storage"]["extraVolumeMounts"]}
    assert mounts[su["extraEnv"]["LODESTAR_ROOT"]]["readOnly"] is True


def test_no_secrets_in_the_values_file():
    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    found = set(keys(load_values())) & {"client_secret", "client_id", "cookieSecret", "secretToken", "existingSecret"}
    assert not found, f"secrets belong in a separate, uncommitted values file: {found}"


# --- the settings loaded into the real KubeSpawner / GitHubOAuthenticator classes ------


def test_github_oauthenticator_accepts_the_hub_config():
    pytest.importorskip("oauthenticator", reason="oauthenticator is not installed (requirements.in)")
    from oauthenticator.github import GitHubOAuthenticator
    from traitlets.config import Config

    hub_config = load_values()["hub"]["config"]
    config = Config({k: v for k, v in hub_config.items() if k in ("Authenticator", "OAuthenticator", "GitHubOAuthenticator")})
    auth = GitHubOAuthenticator(config=config)
    assert auth.allowed_organizations == set(hub_config["GitHubOAuthenticator"]["allowed_organizations"])
    assert "read:org" in auth.scope
    assert auth.oauth_callback_url.endswith("/hub/oauth_callback")
    # The chart's authenticator_class "github" names this class (entry point of oauthenticator).
    from jupyterhub.app import JupyterHub

    hub = JupyterHub(config=Config({"JupyterHub": hub_config["JupyterHub"]}))
    assert hub.authenticator_class is GitHubOAuthenticator


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: offline, user: {token: not-a-real-token}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


@pytest.fixture
def offline_kubernetes(tmp_path, monkeypatch):
    """KubeSpawner loads a client configuration when constructed (no request is made
    until a pod is started); give it an unreachable cluster so nothing leaves the machine."""
    kubespawner = pytest.importorskip("kubespawner", reason="jupyterhub-kubespawner is not installed (requirements.in)")
    import kubernetes_asyncio.config

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    def load_offline_config(**kwargs):
        with ThreadPoolExecutor(1) as pool:  # called from inside the event loop, like the original
            pool.submit(lambda: asyncio.run(kubernetes_asyncio.config.load_kube_config(config_file=str(path)))).result()

    monkeypatch.setattr(kubespawner.spawner, "load_config", load_offline_config)
    return kubespawner


def make_kubespawner(values: dict):
    """A KubeSpawner configured the way the chart's jupyterhub_config.py maps singleuser.*"""
    import kubespawner
    from traitlets.config import Config

    su = values["singleuser"]
    storage = su["storage"]
    c = Config(values["hub"]["config"])
    ks = c.KubeSpawner
    ks.image = f"{su['image']['name']}:{su['image']['tag']}"
    ks.image_pull_policy = su["image"]["pullPolicy"]
    ks.default_url = su["defaultUrl"]
    ks.start_timeout = su["startTimeout"]
    ks.uid = su["uid"]
    ks.fs_gid = su["fsGid"]
    ks.cpu_guarantee, ks.cpu_limit = su["cpu"]["guarantee"], su["cpu"]["limit"]
    ks.mem_guarantee, ks.mem_limit = su["memory"]["guarantee"], su["memory"]["limit"]
    ks.environment = dict(su["extraEnv"])
    ks.service_account = su["serviceAccountName"]
    ks.profile_list = su["profileList"]
    ks.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": storage["static"]["pvcName"]}}, *storage["extraVolumes"]]
    ks.volume_mounts = [
        {"name": "home", "mountPath": storage["homeMountPath"], "subPath": storage["static"]["subPath"]},
        *storage["extraVolumeMounts"],
    ]
    return kubespawner.KubeSpawner(config=c, _mock=True)


@pytest.mark.parametrize("slug", [p["slug"] for p in yaml.safe_load(VALUES.read_text())["singleuser"]["profileList"]])
def test_each_profile_applies_to_a_real_kubespawner(slug, offline_kubernetes):
    values = load_values()
    profile = next(p for p in values["singleuser"]["profileList"] if p["slug"] == slug)

    async def spawn_settings():
        spawner = make_kubespawner(values)
        spawner.user_options = {"profile": slug}
        await spawner.load_user_options()
        return spawner, spawner.get_env(), await spawner.get_pod_manifest()

    spawner, env, manifest = asyncio.run(spawn_settings())
    ov = profile["kubespawner_override"]
    # Every override is a KubeSpawner trait, and the trait's validation accepted the value.
    for key in ov:
        assert spawner.has_trait(key), f"{key} is not a KubeSpawner setting"
    assert spawner.cpu_limit == float(ov["cpu_limit"]) and spawner.mem_limit is not None
    assert spawner.node_selector["node.kubernetes.io/instance-type"] in profile["display_name"]
    assert env["LODESTAR_THREADS"] == ov["environment"]["LODESTAR_THREADS"]
    assert env["LODESTAR_ROOT"] == "/srv/lodestar/catalogs"  # the chart-wide setting survives the merge
    (container,) = [c for c in manifest.spec.containers if c.name == "notebook"]
    assert container.image == f"{values['singleuser']['image']['name']}:{values['singleuser']['image']['tag']}"
    assert manifest.spec.node_selector["node.kubernetes.io/instance-type"] == ov["node_selector"]["node.kubernetes.io/instance-type"]
    if "extra_resource_limits" in ov:
        assert container.resources.limits["nvidia.com/gpu"] == "1"
        assert any(t.key == "nvidia.com/gpu" for t in manifest.spec.tolerations)
    home = next(m for m in container.volume_mounts if m.mount_path == "/home/jovyan")
    assert home.sub_path.startswith("home/mock") and "{" not in home.sub_path  # {username} expanded per user
    catalogs = next(m for m in container.volume_mounts if m.mount_path == "/srv/lodestar/catalogs")
    assert catalogs.read_only


def test_an_unknown_profile_is_refused_by_kubespawner(offline_kubernetes):
    async def spawn():
        spawner = make_kubespawner(load_values())
        spawner.user_options = {"profile": "p5-48xlarge"}
        await spawner.load_user_options()

    with pytest.raises(ValueError, match="No such profile"):
        asyncio.run(spawn())


# --- Dask on Kubernetes ---------------------------------------------------------------


def test_daskcluster_validates_against_the_crd():
    docs = list(yaml.safe_load_all(DASKCLUSTER.read_text()))
    assert len(docs) == 1 and docs[0]["kind"] == "DaskCluster" and docs[0]["apiVersion"] == "kubernetes.dask.org/v1"
    assert errors(daskcluster_schema(), docs[0]) == []


def test_the_daskcluster_check_catches_mistakes():
    doc = yaml.safe_load(DASKCLUSTER.read_text())
    doc["spec"]["worker"]["replica"] = 4  # misspelt: the API server would silently drop it
    doc["spec"]["worker"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    found = errors(daskcluster_schema(), doc)
    assert any("'replica' was unexpected" in e for e in found) and any("is not of type 'integer'" in e for e in found), found


def test_dask_workers_use_the_notebook_image_and_catalogs():
    values = load_values()
    image = f"{values['singleuser']['image']['name']}:{values['singleuser']['image']['tag']}"
    doc = yaml.safe_load(DASKCLUSTER.read_text())
    for part in ("worker", "scheduler"):
        for container in doc["spec"][part]["spec"]["containers"]:
            assert container["image"] == image
    worker = doc["spec"]["worker"]["spec"]
    assert worker["volumes"][0]["persistentVolumeClaim"]["claimName"] == values["singleuser"]["storage"]["extraVolumes"][0][
        "persistentVolumeClaim"
    ]["claimName"]


# --- the Dockerfile: the set-up's steps, nothing else ----------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_dockerfile_builds_with_the_setup_steps():
    instr = dockerfile_instructions()
    base = [rest for word, rest in instr if word == "FROM"]
    assert len(base) == 1 and base[0].startswith("quay.io/jupyter/") and ":" in base[0] and not base[0].endswith(":latest")
    assert ("COPY", ". /opt/lodestar") in instr
    runs = " && ".join(rest for word, rest in instr if word == "RUN")
    assert "scripts/setup.sh" in runs
    # Lodestar is installed with the Makefile's own install-python command.
    makefile = (REPO / "Makefile").read_text()
    make_install = re.search(r"^install-python:.*?\n\t@?\$\(PY\) -m (pip install [^\n|]*?)\s*2>", makefile, re.S | re.M).group(1)
    assert f".venv/bin/python -m {make_install.strip()}" in runs, (make_install, runs)
    # One source of truth: no package is installed by name outside the set-up and the lock.
    for cmd in re.split(r"&&|;", runs):
        cmd = cmd.strip()
        assert not re.match(r"(apt-get|apt|conda|mamba|npm)\s+install", cmd), f"install outside scripts/setup.sh: {cmd}"
        if "pip install" in cmd:
            assert cmd.endswith(" .") or cmd.endswith("-r requirements.lock"), f"pip installs by name: {cmd}"
    # The set-up installs what the image needs from the lock file.
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "requirements.lock" in setup
    lock_or_in = (REPO / "requirements.lock").read_text() + (REPO / "requirements.in").read_text()
    for needed in ("jupyterhub", "jupyterlab", "dask", "distributed"):
        assert re.search(rf"^{needed}\b", lock_or_in, re.M), f"{needed} missing from requirements"


def test_dockerfile_serves_from_the_setup_environment():
    instr = dockerfile_instructions()
    env = " ".join(rest for word, rest in instr if word == "ENV")
    assert "PATH=/opt/lodestar/.venv/bin:" in env and "LODESTAR_ROOT=/srv/lodestar/catalogs" in env
    users = [rest for word, rest in instr if word == "USER"]
    assert users[-1] == "${NB_UID}", "the image must not run notebooks as root"
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    assert {".venv", "build", "node_modules"} <= set(ignore)
