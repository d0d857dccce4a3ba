"""``pld manifest kubernetes|marathon``: structure checked against the field names the APIs define.

The Kubernetes allow-lists below are the exact field names of the apps/v1, core/v1 and
autoscaling/v2 types involved (API reference, v1.31); a misspelt or invented key fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from pld_plugins import deploy

OBJECT_META = {"name", "namespace", "labels", "annotations", "generateName"}
PROBE = {
    "exec", "failureThreshold", "grpc", "httpGet", "initialDelaySeconds", "periodSeconds",
    "successThreshold", "tcpSocket", "terminationGracePeriodSeconds", "timeoutSeconds",
}  # fmt: skip
# type name -> {field: type of its value (a type name, [type name] for a list, or None)}
SCHEMA: dict[str, dict[str, Any]] = {
    "Deployment": {"apiVersion": None, "kind": None, "metadata": "ObjectMeta",
                   "spec": "DeploymentSpec"},
    "Service": {"apiVersion": None, "kind": None, "metadata": "ObjectMeta", "spec": "ServiceSpec"},
    "HorizontalPodAutoscaler": {"apiVersion": None, "kind": None, "metadata": "ObjectMeta",
                                "spec": "HPASpec"},
    "ObjectMeta": dict.fromkeys(OBJECT_META),
    "DeploymentSpec": {"minReadySeconds": None, "paused": None, "progressDeadlineSeconds": None,
                       "replicas": None, "revisionHistoryLimit": None,
                       "selector": "LabelSelector", "strategy": "DeploymentStrategy",
                       "template": "PodTemplateSpec"},
    "LabelSelector": {"matchExpressions": None, "matchLabels": None},
    "DeploymentStrategy": {"type": None, "rollingUpdate": "RollingUpdateDeployment"},
    "RollingUpdateDeployment": {"maxSurge": None, "maxUnavailable": None},
    "PodTemplateSpec": {"metadata": "ObjectMeta", "spec": "PodSpec"},
    "PodSpec": {
        "activeDeadlineSeconds": None, "affinity": None, "automountServiceAccountToken": None,
        "containers": ["Container"], "dnsConfig": None, "dnsPolicy": None,
        "enableServiceLinks": None, "ephemeralContainers": None, "hostAliases": None,
        "hostIPC": None, "hostNetwork": None, "hostPID": None, "hostUsers": None,
        "hostname": None, "imagePullSecrets": None, "initContainers": None, "nodeName": None,
        "nodeSelector": None, "os": None, "overhead": None, "preemptionPolicy": None,
        "priority": None, "priorityClassName": None, "readinessGates": None,
        "resourceClaims": None, "restartPolicy": None, "runtimeClassName": None,
        "schedulerName": None, "schedulingGates": None, "securityContext": "PodSecurityContext",
        "serviceAccountName": None, "setHostnameAsFQDN": None, "shareProcessNamespace": None,
        "subdomain": None, "terminationGracePeriodSeconds": None, "tolerations": None,
        "topologySpreadConstraints": None, "volumes": None,
    },
    "PodSecurityContext": dict.fromkeys({
        "appArmorProfile", "fsGroup", "fsGroupChangePolicy", "runAsGroup", "runAsNonRoot",
        "runAsUser", "seLinuxOptions", "seccompProfile", "supplementalGroups", "sysctls",
        "windowsOptions",
    }),
    "Container": {
        "args": None, "command": None, "env": ["EnvVar"], "envFrom": None, "image": None,
        "imagePullPolicy": None, "lifecycle": None, "livenessProbe": "Probe", "name": None,
        "ports": ["ContainerPort"], "readinessProbe": "Probe", "resizePolicy": None,
        "resources": "ResourceRequirements", "restartPolicy": None,
        "securityContext": "SecurityContext", "startupProbe": "Probe", "stdin": None,
        "stdinOnce": None, "terminationMessagePath": None, "terminationMessagePolicy": None,
        "tty": None, "volumeDevices": None, "volumeMounts": None, "workingDir": None,
    },
    "EnvVar": {"name": None, "value": None, "valueFrom": None},
    "ContainerPort": {"containerPort": None, "hostIP": None, "hostPort": None, "name": None,
                      "protocol": None},
    "ResourceRequirements": {"claims": None, "limits": None, "requests": None},
    "SecurityContext": dict.fromkeys({
        "allowPrivilegeEscalation", "appArmorProfile", "capabilities", "privileged",
        "procMount", "readOnlyRootFilesystem", "runAsGroup", "runAsNonRoot", "runAsUser",
        "seLinuxOptions", "seccompProfile", "windowsOptions",
    }),
    "Probe": {**dict.fromkeys(PROBE), "httpGet": "HTTPGetAction"},
    "HTTPGetAction": {"host": None, "httpHeaders": None, "path": None, "port": None,
                      "scheme": None},
    "ServiceSpec": {
        "allocateLoadBalancerNodePorts": None, "clusterIP": None, "clusterIPs": None,
        "externalIPs": None, "externalName": None, "externalTrafficPolicy": None,
        "healthCheckNodePort": None, "internalTrafficPolicy": None, "ipFamilies": None,
        "ipFamilyPolicy": None, "loadBalancerClass": None, "loadBalancerIP": None,
        "loadBalancerSourceRanges": None, "ports": ["ServicePort"],
        "publishNotReadyAddresses": None, "selector": None, "sessionAffinity": None,
        "sessionAffinityConfig": None, "trafficDistribution": None, "type": None,
    },
    "ServicePort": {"appProtocol": None, "name": None, "nodePort": None, "port": None,
                    "protocol": None, "targetPort": None},
    "HPASpec": {"behavior": None, "maxReplicas": None, "metrics": ["MetricSpec"],
                "minReplicas": None, "scaleTargetRef": "CrossVersionObjectReference"},
    "CrossVersionObjectReference": {"apiVersion": None, "kind": None, "name": None},
    "MetricSpec": {"containerResource": None, "external": None, "object": None, "pods": None,
                   "resource": "ResourceMetricSource", "type": None},
    "ResourceMetricSource": {"name": None, "target": "MetricTarget"},
    "MetricTarget": {"averageUtilization": None, "averageValue": None, "type": None,
                     "value": None},
}  # fmt: skip
INTEGERS = {"containerPort", "port", "replicas", "minReplicas", "maxReplicas", "periodSeconds",
            "timeoutSeconds", "failureThreshold", "initialDelaySeconds", "averageUtilization",
            "terminationGracePeriodSeconds"}  # fmt: skip
MARATHON_KEYS = {
    "id", "container", "env", "labels", "cpus", "mem", "instances", "healthChecks",
    "upgradeStrategy",
}  # fmt: skip


def validate(value: Any, type_name: str, where: str = "") -> None:
    """Fail on any key the Kubernetes type does not define; recurse into known sub-types."""
    fields = SCHEMA[type_name]
    assert isinstance(value, dict), f"{where}: {type_name} must be a mapping"
    for key, item in value.items():
        assert key in fields, f"{where}.{key} is not a field of {type_name}"
        if key in INTEGERS:
            assert isinstance(item, int) and not isinstance(item, bool), f"{where}.{key}"
        sub = fields[key]
        if isinstance(sub, list):
            assert isinstance(item, list), f"{where}.{key} must be a list"
            for i, element in enumerate(item):
                validate(element, sub[0], f"{where}.{key}[{i}]")
        elif sub is not None:
            validate(item, sub, f"{where}.{key}")
        elif key in ("labels", "annotations", "matchLabels", "selector", "requests", "limits"):
            assert all(isinstance(v, str) for v in item.values()), f"{where}.{key}"


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    cli = click.Group("pld")
    deploy.pld_register_commands(cli=cli)
    env = {"PLD_CONFIG": None, "PALLADIUM_CONFIG": None, **(env or {})}
    return CliRunner().invoke(cli, ["manifest", *args], env=env, catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.py"
    path.write_text(
        "{'service_metadata': {'service_name': 'Iris Service', 'service_version': '0.1',"
        " 'owner': 'data-team', 'tags': ['ml']}}"
    )
    return path


def kubernetes(*args: str) -> list[dict[str, Any]]:
    result = run("kubernetes", "--image", "me/iris-predict:1", *args)
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    for document in documents:
        validate(document, document["kind"], document["kind"])
    return documents


def test_kubernetes_deployment_and_service():
    deployment, service = kubernetes()
    assert (deployment["apiVersion"], deployment["kind"]) == ("apps/v1", "Deployment")
    assert (service["apiVersion"], service["kind"]) == ("v1", "Service")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "me/iris-predict:1" and container["name"] == "iris-predict"
    # The image's own command runs, with its gunicorn settings: threads for slow clients.
    assert "command" not in container and "args" not in container
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/alive", "port": 8000}
    assert {"name": "PLD_CONFIG", "value": "/app/config.py"} in container["env"]
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8000, "protocol": "TCP"}
    ]


def test_kubernetes_options_config_metadata_and_autoscaler(config):
    options = ["--port", "9000", "--replicas", "3", "--max-replicas", "8", "--cpu-target", "60"]
    documents = kubernetes("-c", str(config), *options, "--namespace", "ml", "--env", "A=b=c")
    deployment, service, hpa = documents
    assert (hpa["apiVersion"], hpa["kind"]) == ("autoscaling/v2", "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 8
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "iris-service",
    }
    target = hpa["spec"]["metrics"][0]["resource"]
    assert target == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    for document in documents:
        assert document["metadata"]["name"] == "iris-service"
        assert document["metadata"]["namespace"] == "ml"
    meta = deployment["metadata"]
    assert meta["labels"]["app.kubernetes.io/version"] == "0.1"
    assert meta["annotations"]["pld/owner"] == "data-team"
    assert meta["annotations"]["pld/tags"] == '["ml"]'
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/alive", "port": 9000}
    assert {"name": "A", "value": "b=c"} in container["env"]
    assert service["spec"]["ports"][0]["targetPort"] == 9000


def test_kubernetes_to_a_file(tmp_path):
    out = tmp_path / "iris.yaml"
    result = run("kubernetes", "--image", "me/iris-predict:1", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert [d["kind"] for d in yaml.safe_load_all(out.read_text())] == ["Deployment", "Service"]


def test_marathon_has_the_seed_keys(config):
    result = run("marathon", "--image", "me/iris-predict:1", "--port", "8001", "-c", str(config))
    assert result.exit_code == 0, result.output
    app = json.loads(result.stdout)
    assert set(app) == MARATHON_KEYS
    assert app["id"] == "iris-service" and app["instances"] == 3
    docker = app["container"]["docker"]
    assert app["container"]["type"] == "DOCKER"
    assert docker["image"] == "me/iris-predict:1" and docker["network"] == "BRIDGE"
    (mapping,) = docker["portMappings"]
    assert set(mapping) == {"containerPort", "hostPort", "servicePort", "protocol"}
    assert mapping["containerPort"] == 8001 and mapping["hostPort"] == 0
    (check,) = app["healthChecks"]
    assert check["protocol"] == "HTTP" and check["path"] == "/alive" and check["portIndex"] == 0
    for key in ("gracePeriodSeconds", "intervalSeconds", "maxConsecutiveFailures"):
        assert isinstance(check[key], int) and check[key] > 0
    assert 0 <= app["upgradeStrategy"]["minimumHealthCapacity"] <= 1
    assert isinstance(app["cpus"], float) and isinstance(app["mem"], float)
    assert app["labels"] == {
        "service_name": "Iris Service",
        "service_version": "0.1",
        "owner": "data-team",
        "tags": '["ml"]',
    }
    assert app["env"] == {"PLD_CONFIG": "/app/config.py"}


def test_marathon_options():
    args = ["--image", "x/y:2", "--name", "y", "--instances", "5", "--service-port", "9000"]
    app = json.loads(run("marathon", *args).stdout)
    assert app["id"] == "y" and app["instances"] == 5
    assert app["container"]["docker"]["portMappings"][0]["servicePort"] == 9000
    assert app["labels"] == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kubernetes", "--name", "Bad_Name"], "--name 'Bad_Name' must be lowercase"),
        (["kubernetes", "--min-replicas", "2"], "--min-replicas needs --max-replicas"),
        (["kubernetes", "--min-replicas", "5", "--max-replicas", "2"], "is more than"),
        (["marathon", "--env", "NOVALUE"], "--env 'NOVALUE' must look like NAME=VALUE"),
    ],
)
def test_bad_options(args, message):
    from pld_core import PldError

    with pytest.raises(PldError, match=message):
        run(*args, "--image", "me/iris-predict:1")


def test_a_broken_config_is_an_error(tmp_path):
    from pld_core import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        run("marathon", "--image", "a/b:1", "-c", str(tmp_path / "missing.py"))
