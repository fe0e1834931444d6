"""values.schema.json rejects bad values, and hook weights order the Jobs after what they need."""

from __future__ import annotations

import copy

import pytest

from .chart import (
    PRODUCTION_VALUES,
    RenderError,
    by_kind,
    component,
    hook,
    hook_order_violations,
    one,
    render,
)

# (--set values, a fragment of helm's error): each must be refused before anything renders
BAD_VALUES = {
    "ocpi replicas >1 without PostgreSQL": ({"ocpi__replicaCount": 2}, "/ocpi/replicaCount"),
    "ocpi HPA maxReplicas >1 without PostgreSQL": ({"ocpi__autoscaling__enabled": True}, "/ocpi/autoscaling"),
    "PostgreSQL without URL or existing Secret": ({"postgresql__enabled": True}, "/postgresql/url"),
    "SASL without mechanism": ({"kafka__securityProtocol": "SASL_SSL"}, "/kafka/sasl/mechanism"),
    "unknown security protocol": ({"kafka__securityProtocol": "TLS"}, "/kafka/securityProtocol"),
    "empty bootstrap": ({"kafka__bootstrap": ""}, "/kafka/bootstrap"),
    "strimzi without cluster": ({"kafka__topics__mode": "strimzi"}, "/kafka/topics/strimzi/clusterName"),
    "profile 3 without gateway TLS": ({"gateway__securityProfile": 3}, "/gateway/tls/secretName"),
    "profile 3 through a terminating Ingress": (
        {"gateway__securityProfile": 3, "gateway__tls__secretName": "gw", "gateway__ingress__enabled": True,
         "gateway__ingress__host": "ocpp.example.com"}, "/gateway/ingress"),
    "security profile 4": ({"gateway__securityProfile": 4}, "/gateway/securityProfile"),
    "gateway scale-down window too short": (
        {"gateway__autoscaling__scaleDown__stabilizationWindowSeconds": 30}, "stabilizationWindowSeconds"),
    "gateway ingress without host": ({"gateway__ingress__enabled": True}, "/gateway/ingress"),
    "ocpi ingress without TLS": (
        {"ocpi__ingress__enabled": True, "ocpi__ingress__host": "ocpi.example.com"}, "tlsSecretName"),
    "writable root filesystem": ({"containerSecurityContext__readOnlyRootFilesystem": False}, "readOnlyRootFilesystem"),
    "root pods": ({"podSecurityContext__runAsNonRoot": False}, "runAsNonRoot"),
    "typo in a key": ({"gateway__replicas": 3}, "replicas"),
    "unknown top-level key": ({"kafkaa": {"bootstrap": "x:1"}}, "kafkaa"),
    "bad OCPI party id": ({"ocpi__partyId": "toolong"}, "/ocpi/partyId"),
    "bad resource quantity": ({"billing__resources__limits__memory": "lots"}, "memory"),
    "catalog without content": ({"catalog__enabled": True}, "/catalog"),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_schema_rejects_bad_values(case):
    sets, fragment = BAD_VALUES[case]
    with pytest.raises(RenderError) as err:
        render(**sets)
    message = str(err.value)
    assert "values don't meet the specifications of the schema" in message, message
    assert fragment in message, message


@pytest.mark.parametrize(
    "sets",
    [
        {"ocpi__replicaCount": 3, "postgresql__enabled": True, "postgresql__url": "postgresql+asyncpg://vs@pg:5432/vs"},
        {"ocpi__autoscaling__enabled": True, "ocpi__autoscaling__minReplicas": 1, "ocpi__autoscaling__maxReplicas": 1},
        {"ocpi__autoscaling__enabled": True, "postgresql__enabled": True, "secrets__existingSecret": "creds"},
        {"gateway__securityProfile": 3, "gateway__tls__secretName": "gw", "gateway__loadBalancer__enabled": True},
    ],
    ids=["ocpi-3-with-postgresql", "ocpi-hpa-max-1", "ocpi-hpa-existing-secret", "profile-3-l4"],
)
def test_schema_accepts_good_values(sets):
    assert render(**sets)


# ---------------------------------------------------------------------------------------- hooks

HOOK_CASES = {
    "default": ((), {}),
    "production (strimzi, existing secret, catalog post-install)": ((PRODUCTION_VALUES,), {}),
    "catalog with topics job": ((), {"catalog__enabled": True, "catalog__content": "locations: []\n"}),
    "kafka TLS client cert": ((), {"kafka__securityProtocol": "SSL", "kafka__tls__caSecret__name": "ca",
                                   "kafka__tls__clientSecret__name": "user"}),
}


@pytest.mark.parametrize("case", list(HOOK_CASES))
def test_hook_weights_order_jobs_after_what_they_need(case):
    files, sets = HOOK_CASES[case]
    docs = render(*files, **sets)
    assert by_kind(docs, "Job")
    assert hook_order_violations(docs) == []


def test_jobs_run_in_order_topics_migrate_catalog():
    docs = render(catalog__enabled=True, catalog__content="locations: []\n")
    jobs = {component(j): hook(j) for j in by_kind(docs, "Job")}
    assert jobs["job-topics"][0] == jobs["job-migrate"][0] == jobs["job-catalog"][0] == {"pre-install", "pre-upgrade"}
    assert jobs["job-topics"][1] < jobs["job-catalog"][1]
    assert jobs["job-migrate"][1] < jobs["job-catalog"][1]
    config = one(docs, "ConfigMap", "vs-voltstream-hook-config")
    # the hook copy carries the same settings as the release's ConfigMap
    assert config["data"] == one(docs, "ConfigMap", "vs-voltstream-config")["data"]
    annotations = config["metadata"]["annotations"]
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]


def test_catalog_waits_for_strimzi_topics():
    """KafkaTopic resources are release resources (created after pre-* hooks): the catalog goes post-*."""
    docs = render(PRODUCTION_VALUES)
    catalog = next(j for j in by_kind(docs, "Job") if component(j) == "job-catalog")
    assert hook(catalog)[0] == {"post-install", "post-upgrade"}
    assert all(hook(t) is None for t in by_kind(docs, "KafkaTopic"))


def test_hook_order_check_catches_mistakes():
    """The check itself fails on a chart that would create the Job before what it needs."""
    docs = render()
    late = copy.deepcopy(docs)
    one(late, "ConfigMap", "vs-voltstream-hook-config")["metadata"]["annotations"]["helm.sh/hook-weight"] = "5"
    assert any("weight" in p for p in hook_order_violations(late))
    release_ref = copy.deepcopy(docs)
    job = next(j for j in by_kind(release_ref, "Job") if component(j) == "job-topics")
    job["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] = "vs-voltstream-config"
    assert any("release resource" in p for p in hook_order_violations(release_ref))
    pre_only = copy.deepcopy(docs)
    secret = one(pre_only, "Secret", "vs-voltstream-hook-secret")
    secret["metadata"]["annotations"]["helm.sh/hook"] = "pre-install"
    assert any("pre-upgrade" in p for p in hook_order_violations(pre_only))
