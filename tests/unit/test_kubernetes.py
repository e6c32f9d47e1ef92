"""deploy/kubernetes/ validates offline against the Kubernetes OpenAPI schemas (the
schemas kubernetes-validate ships; strict: an unknown field is an error), and every
command it runs, probes included, exists in the CLI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.commands import check_program

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest minor still widely run; newer ones accept it too
APP_CONTAINERS = ("migrate", "beat", "worker", "flower", "serve")


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return data


def resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in kustomization()["resources"]:
        out += [doc for doc in yaml.safe_load_all((BASE / name).read_text()) if doc]
    return out


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources() if r["kind"] == kind}


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in resources():
        spec = resource.get("spec", {}).get("template", {}).get("spec")
        for container in (spec or {}).get("containers", []):
            yield resource["metadata"]["name"], container


def test_every_file_is_in_the_kustomization() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
def test_manifests_validate_against_the_kubernetes_schemas(version: str) -> None:
    for resource in resources():
        kubernetes_validate.validate(resource, version, strict=True)


def test_every_command_and_probe_runs_a_real_command() -> None:
    seen = set()
    for owner, container in containers():
        check_program(owner, container["command"])
        seen.add(container["name"])
        for probe in ("readinessProbe", "livenessProbe"):
            spec = container.get(probe)
            assert spec or owner == "syncd-migrate", (owner, probe)  # a Job has none
            if spec and "exec" in spec:
                check_program(f"{owner} {probe}", spec["exec"]["command"])
    assert seen == set(APP_CONTAINERS)


def test_the_shape_of_the_stack() -> None:
    deployments = by_kind("Deployment")
    assert deployments["syncd-beat"]["spec"]["replicas"] == 2
    assert deployments["syncd-serve"]["spec"]["replicas"] == 2  # safe: one applies per commit
    assert "syncd-watch" not in deployments  # watch is for local development
    worker = deployments["syncd-worker"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert worker[worker.index("-P") + 1] == "gevent"
    assert by_kind("Job")["syncd-migrate"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ] == ["syncd", "migrate"]


def test_settings_from_a_configmap_and_secrets_from_a_secret_without_defaults() -> None:
    generators = {g["name"]: g for g in kustomization()["secretGenerator"]}
    assert generators["syncd-secrets"]["envs"] == ["secrets.env"]
    assert "deploy/kubernetes/secrets.env" in (REPO / ".gitignore").read_text().splitlines()
    secret_keys = {
        line.split("=", 1)[0]
        for line in (BASE / "secrets.env.example").read_text().splitlines()
        if "=" in line
    }
    settings = by_kind("ConfigMap")["syncd-settings"]["data"]
    assert secret_keys.isdisjoint(settings)
    assert "FLOWER_BASIC_AUTH" in secret_keys and "SYNCD_DATABASE_URL" in secret_keys
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (REPO / "docs/settings.md").read_text()))
    assert (secret_keys | set(settings)) <= documented
    for owner, container in containers():
        refs = container["envFrom"]
        assert {"configMapRef": {"name": "syncd-settings"}} in refs, owner
        assert {"secretRef": {"name": "syncd-secrets"}} in refs, owner
        assert "env" not in container, owner  # nothing inline, so nothing secret inline


def test_pods_run_as_the_images_non_root_user() -> None:
    for resource in resources():
        pod = resource.get("spec", {}).get("template", {}).get("spec")
        if pod:
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user


def test_serve_probes_its_endpoints_and_takes_webhooks_through_a_service() -> None:
    serve = by_kind("Deployment")["syncd-serve"]["spec"]["template"]["spec"]
    (container,) = serve["containers"]
    assert container["command"] == ["syncd", "serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    settings = by_kind("ConfigMap")["syncd-settings"]["data"]
    assert settings["SYNCD_LISTEN"].endswith(":8650")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert settings["SYNCD_STATE_DIR"] == mounts["state"]
    assert settings["SYNCD_WEBHOOK_SECRET_FILE"].startswith(mounts["webhook-secret"] + "/")
    volume = next(v for v in serve["volumes"] if v["name"] == "webhook-secret")
    assert volume["secret"]["secretName"] == "syncd-secrets"
    service = by_kind("Service")["syncd-serve"]
    assert service["spec"]["ports"][0]["port"] == 8650
    assert service["spec"]["publishNotReadyAddresses"] is True  # a fix's hook gets through
    assert "://" in settings["SYNCD_REPO"] and "@" not in settings["SYNCD_REPO"]
