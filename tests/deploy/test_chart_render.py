"""The Helm chart lints, renders and every manifest validates offline (issue 11)."""

from __future__ import annotations

import copy

import pytest

from libs.events.topics import Topics

from .chart import (
    PRODUCTION_VALUES,
    by_kind,
    component,
    lint,
    one,
    pod_spec,
    render,
    validate,
    workloads,
)

SERVICES = ("gateway", "sessions", "billing", "ocpi", "analytics")
CASES = {"default": (), "production": (PRODUCTION_VALUES,)}


@pytest.fixture(scope="module", params=list(CASES))
def rendered(request):
    return request.param, render(*CASES[request.param])


@pytest.fixture(scope="module")
def default_docs():
    return render()


@pytest.fixture(scope="module")
def prod_docs():
    return render(PRODUCTION_VALUES)


@pytest.mark.parametrize("case", list(CASES))
def test_helm_lint_strict(case):
    proc = lint(*CASES[case])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def test_every_manifest_validates_offline(rendered):
    name, docs = rendered
    assert len(docs) > 20
    errors = {f"{d['kind']}/{d['metadata']['name']}": validate(d) for d in docs}
    assert {k: v for k, v in errors.items() if v} == {}, name


def test_validation_catches_bad_manifests(prod_docs):
    """The validators are not vacuous: a typo or a wrong type in a core kind or a CR is reported."""
    deployment = copy.deepcopy(by_kind(prod_docs, "Deployment")[0])
    pod_spec(deployment)["containers"][0]["imagePullPolicyy"] = "Always"
    assert validate(deployment)
    deployment = copy.deepcopy(by_kind(prod_docs, "Deployment")[0])
    deployment["spec"]["replicas"] = "two"
    assert validate(deployment)
    topic = copy.deepcopy(by_kind(prod_docs, "KafkaTopic")[0])
    topic["spec"]["partitions"] = 0
    assert any("partitions" in e for e in validate(topic))
    topic = copy.deepcopy(by_kind(prod_docs, "KafkaTopic")[0])
    topic["spec"]["partition"] = 3
    assert validate(topic)
    monitor = copy.deepcopy(by_kind(prod_docs, "ServiceMonitor")[0])
    monitor["spec"]["endpoints"][0]["scheme"] = "ftp"
    assert validate(monitor)
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert validate(unknown)


def test_default_render_has_every_service_and_job(default_docs):
    kinds = {(d["kind"], component(d)) for d in workloads(default_docs)}
    assert {("StatefulSet", "gateway"), ("StatefulSet", "sessions"), ("Deployment", "billing"),
            ("Deployment", "ocpi"), ("Deployment", "analytics"),
            ("Job", "job-topics"), ("Job", "job-migrate")} <= kinds
    assert not by_kind(default_docs, "KafkaTopic") and not by_kind(default_docs, "ServiceMonitor")
    commands = {component(d): pod_spec(d)["containers"][0]["args"] for d in workloads(default_docs)}
    assert commands["gateway"] == ["gateway"] and commands["analytics"] == ["analytics"]
    assert commands["job-topics"] == ["topics", "apply"]
    assert commands["job-migrate"] == ["analytics", "migrate"]


def test_pods_are_hardened_and_probed(rendered):
    _, docs = rendered
    for doc in workloads(docs):
        spec = pod_spec(doc)
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        mounts_needed = {v["name"] for v in spec["volumes"]}
        mounts_needed |= {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"], where
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts and set(mounts.values()) <= mounts_needed, where
            if doc["kind"] == "Job":
                continue
            ports = {p["name"] for p in c["ports"]}
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            assert c["startupProbe"]["httpGet"]["path"] == "/healthz", where
            assert {c[p]["httpGet"]["port"] for p in ("readinessProbe", "livenessProbe")} <= ports, where


def test_stateful_services_keep_state_on_volumes(default_docs):
    for name, mount in (("gateway", "/var/lib/voltstream/gateway"), ("sessions", "/var/lib/voltstream/sessions")):
        sts = one(default_docs, "StatefulSet", f"vs-voltstream-{name}")
        claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
        mounts = {m["mountPath"]: m["name"] for m in pod_spec(sts)["containers"][0]["volumeMounts"]}
        assert mounts[mount] in claims
        env = {e["name"]: e.get("value") for e in pod_spec(sts)["containers"][0]["env"]}
        assert any(v and v.startswith(mount) for v in env.values()), env
        one(default_docs, "Service", sts["spec"]["serviceName"])
    gateway = one(default_docs, "StatefulSet", "vs-voltstream-gateway")
    assert gateway["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"


def test_every_service_has_pdb_networkpolicy_and_service(rendered):
    _, docs = rendered
    for svc in SERVICES:
        workload = next(d for d in workloads(docs) if component(d) == svc)
        selector = workload["spec"]["selector"]["matchLabels"]
        pdb = one(docs, "PodDisruptionBudget", f"vs-voltstream-{svc}")
        assert pdb["spec"]["selector"]["matchLabels"] == selector
        policy = one(docs, "NetworkPolicy", f"vs-voltstream-{svc}")
        assert policy["spec"]["podSelector"]["matchLabels"] == selector
        container_ports = {p["name"] for p in pod_spec(workload)["containers"][0]["ports"]}
        for rule in policy["spec"]["ingress"]:
            assert {p["port"] for p in rule["ports"]} <= container_ports, (svc, rule)
        service = one(docs, "Service", f"vs-voltstream-{svc}")
        assert service["spec"]["selector"] == selector
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports


def test_gateway_drains_and_scales_down_slowly(prod_docs):
    gateway = one(prod_docs, "StatefulSet", "vs-voltstream-gateway")
    spec = pod_spec(gateway)
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    drain = int(env["VOLTSTREAM_GATEWAY_DRAIN_SECONDS"])
    pre_stop = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
    assert spec["terminationGracePeriodSeconds"] >= drain + pre_stop
    assert "replicas" not in gateway["spec"]  # the HPA owns it
    hpa = one(prod_docs, "HorizontalPodAutoscaler", "vs-voltstream-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "vs-voltstream-gateway"}
    down = hpa["spec"]["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= 600
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 600}]
    assert one(prod_docs, "HorizontalPodAutoscaler", "vs-voltstream-ocpi")["spec"]["maxReplicas"] == 4


def test_gateway_grace_period_shorter_than_drain_is_refused():
    from .chart import RenderError

    with pytest.raises(RenderError, match="terminationGracePeriodSeconds"):
        render(gateway__drainSeconds=300, gateway__terminationGracePeriodSeconds=120)


def test_gateway_profile_3_is_l4_with_tls_at_the_gateway(prod_docs):
    lb = one(prod_docs, "Service", "vs-voltstream-gateway-lb")
    assert lb["spec"]["type"] == "LoadBalancer" and lb["spec"]["externalTrafficPolicy"] == "Local"
    assert lb["spec"]["ports"][0]["targetPort"] == "ocpp"
    assert not [i for i in by_kind(prod_docs, "Ingress") if component(i) == "gateway"]
    spec = pod_spec(one(prod_docs, "StatefulSet", "vs-voltstream-gateway"))
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["VOLTSTREAM_GATEWAY_TLS_CERTFILE"].startswith("/etc/voltstream/gateway-tls/")
    assert env["VOLTSTREAM_GATEWAY_TLS_CLIENT_CA"].startswith("/etc/voltstream/gateway-tls/")
    assert {"name": "gateway-tls", "secret": {"secretName": "gateway-tls", "defaultMode": 0o440}} in spec["volumes"]


def test_gateway_ingress_for_profile_2_has_long_websocket_timeouts():
    docs = render(gateway__ingress__enabled=True, gateway__ingress__host="ocpp.example.com",
                  gateway__ingress__tlsSecretName="ocpp-tls")
    ingress = one(docs, "Ingress", "vs-voltstream-gateway")
    ann = ingress["metadata"]["annotations"]
    assert int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(ann["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert ingress["spec"]["tls"] == [{"hosts": ["ocpp.example.com"], "secretName": "ocpp-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "vs-voltstream-gateway", "port": {"name": "ocpp"}}
    passthrough = render(gateway__securityProfile=3, gateway__tls__secretName="gw-tls",
                         gateway__ingress__enabled=True, gateway__ingress__host="ocpp.example.com",
                         gateway__ingress__tlsPassthrough=True)
    ann = one(passthrough, "Ingress", "vs-voltstream-gateway")["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/ssl-passthrough"] == "true"


def test_ocpi_is_behind_https_ingress_and_uses_postgresql(prod_docs):
    ingress = one(prod_docs, "Ingress", "vs-voltstream-ocpi")
    assert ingress["spec"]["tls"][0]["secretName"] == "ocpi-tls"
    ocpi = one(prod_docs, "Deployment", "vs-voltstream-ocpi")
    env = {e["name"]: e.get("value") for e in pod_spec(ocpi)["containers"][0]["env"]}
    assert "VOLTSTREAM_OCPI_DATABASE_URL" not in env  # from the existing Secret
    assert env["VOLTSTREAM_OCPI_PUBLIC_URL"] == "https://ocpi.example.com"
    assert env["VOLTSTREAM_OCPI_REPLICAS"] == "4"
    assert ocpi["spec"]["strategy"]["type"] == "RollingUpdate"


def test_ocpi_without_postgresql_is_one_sqlite_writer(default_docs):
    ocpi = one(default_docs, "Deployment", "vs-voltstream-ocpi")
    assert ocpi["spec"]["replicas"] == 1 and ocpi["spec"]["strategy"]["type"] == "Recreate"
    env = {e["name"]: e.get("value") for e in pod_spec(ocpi)["containers"][0]["env"]}
    assert env["VOLTSTREAM_OCPI_DATABASE_URL"].startswith("sqlite+aiosqlite:////var/lib/voltstream/ocpi/")
    pvc = one(default_docs, "PersistentVolumeClaim", "vs-voltstream-ocpi-data")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_external_kafka_sasl_tls_settings_reach_every_pod(prod_docs):
    config = one(prod_docs, "ConfigMap", "vs-voltstream-config")["data"]
    assert config["VOLTSTREAM_KAFKA_BOOTSTRAP"] == "main-kafka-bootstrap.kafka.svc:9093"
    assert config["VOLTSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["VOLTSTREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert config["VOLTSTREAM_KAFKA_SSL_CAFILE"] == "/etc/voltstream/kafka-tls/ca.crt"
    assert config["VOLTSTREAM_KAFKA_STATION_PARTITIONS"] == "24"
    assert config["VOLTSTREAM_ANALYTICS_CLICKHOUSE_URL"] == "https://clickhouse.analytics.svc:8443"
    assert "VOLTSTREAM_KAFKA_SASL_PASSWORD" not in config  # secrets never go to the ConfigMap
    assert not [s for s in by_kind(prod_docs, "Secret")]  # existingSecret: the chart makes none
    for doc in workloads(prod_docs):
        spec = pod_spec(doc)
        refs = [r for r in spec["containers"][0]["envFrom"] if "secretRef" in r]
        assert refs == [{"secretRef": {"name": "voltstream-credentials"}}], doc["metadata"]["name"]
        projected = next(v for v in spec["volumes"] if v["name"] == "kafka-tls")["projected"]
        assert projected["sources"][0]["secret"]["name"] == "main-cluster-ca-cert"


def test_chart_secret_holds_passwords_when_no_existing_secret():
    docs = render(kafka__securityProtocol="SASL_PLAINTEXT", kafka__sasl__mechanism="PLAIN",
                  kafka__sasl__username="vs", kafka__sasl__password="s3cret", clickhouse__password="ch")
    secret = one(docs, "Secret", "vs-voltstream-secret")
    assert set(secret["data"]) >= {"VOLTSTREAM_KAFKA_SASL_PASSWORD", "VOLTSTREAM_ANALYTICS_CLICKHOUSE_PASSWORD"}
    config = one(docs, "ConfigMap", "vs-voltstream-config")["data"]
    assert "s3cret" not in str(config)


def test_strimzi_topics_match_the_registry(prod_docs):
    """files/topics.yaml mirrors libs/events/topics.py: same names, partitions and configs."""
    expected = {
        name: (partitions, config)
        for name, partitions, config in Topics(prefix="prod.", station_partitions=24, other_partitions=6).all()
    }
    topics = by_kind(prod_docs, "KafkaTopic")
    got = {t["spec"]["topicName"]: (t["spec"]["partitions"], t["spec"]["config"]) for t in topics}
    assert got == expected
    for t in topics:
        assert t["apiVersion"] == "kafka.strimzi.io/v1"
        assert t["metadata"]["namespace"] == "kafka"
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "main"
        assert t["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert t["spec"]["replicas"] == 3
    assert not [j for j in by_kind(prod_docs, "Job") if component(j) == "job-topics"]


def test_service_monitors_select_one_service_with_the_named_port(prod_docs):
    services = by_kind(prod_docs, "Service")
    monitors = by_kind(prod_docs, "ServiceMonitor")
    assert {component(m) for m in monitors} == set(SERVICES)
    for monitor in monitors:
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        want = monitor["spec"]["selector"]["matchLabels"]
        selected = [s for s in services if want.items() <= s["metadata"]["labels"].items()]
        assert len(selected) == 1, (component(monitor), [s["metadata"]["name"] for s in selected])
        port_names = {p["name"] for p in selected[0]["spec"]["ports"]}
        assert monitor["spec"]["endpoints"][0]["port"] in port_names


def test_grafana_dashboard_configmap(prod_docs):
    import json

    dashboard = one(prod_docs, "ConfigMap", "vs-voltstream-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    model = json.loads(dashboard["data"]["voltstream-overview.json"])
    assert model["uid"] == "voltstream-overview" and model["panels"]
