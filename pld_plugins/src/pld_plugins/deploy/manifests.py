"""``pld manifest kubernetes|marathon``: run the predict image as several instances.

Both manifests come from the options plus, when a config is given, its ``service_metadata``
(Kubernetes annotations, Marathon labels). Every instance checks health on ``/alive``, which
answers 503 until the model is loaded, so no traffic reaches an instance without a model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pld_core import ConfigError, PldError, command_config, common_options

__all__ = ["kubernetes_manifests", "manifest_group", "marathon_app"]

HEALTH_PATH = "/alive"
NAME_LABEL = "app.kubernetes.io/name"
ANNOTATION_PREFIX = "pld/"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def service_metadata() -> dict[str, Any]:
    """The config's ``service_metadata``, or nothing when no config is given.

    Loaded in fit mode: serving mode would load the model and start cache refreshes just to
    read two strings.
    """
    try:
        config = command_config()
    except ConfigError as exc:
        if "no configuration given" in str(exc):
            return {}
        raise
    return dict(config.get("service_metadata") or {})


def app_name(name: str | None, image: str, metadata: dict[str, Any]) -> str:
    """``--name``, else the service name, else the image's repository, as a DNS label."""
    if name is not None:
        if not _DNS_LABEL.fullmatch(name):
            raise PldError(
                f"--name {name!r} must be lowercase letters, digits and '-', at most 63 long"
            )
        return name
    source = str(metadata.get("service_name") or image.rpartition("/")[2].partition(":")[0])
    derived = re.sub(r"[^a-z0-9-]+", "-", source.lower()).strip("-")[:63].strip("-")
    if not derived:
        raise PldError(f"cannot make a name from {source!r}: pass --name")
    return derived


def _annotations(metadata: dict[str, Any]) -> dict[str, str]:
    found = {}
    for key, value in metadata.items():
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(key)).strip("-_.")[:63].strip("-_.")
        if name:
            found[ANNOTATION_PREFIX + name] = value if isinstance(value, str) else json.dumps(value)
    return found


def _labels(name: str, metadata: dict[str, Any]) -> dict[str, str]:
    labels = {NAME_LABEL: name, "app.kubernetes.io/managed-by": "pld"}
    version = str(metadata.get("service_version") or "")
    if version and _LABEL_VALUE.fullmatch(version):
        labels["app.kubernetes.io/version"] = version
    return labels


def _env(image_config: str, env: tuple[str, ...]) -> dict[str, str]:
    values = {"PLD_CONFIG": image_config}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PldError(f"--env {item!r} must look like NAME=VALUE")
        values[key] = value
    return values


def _probe(port: int, period: int, failures: int, delay: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": HEALTH_PATH, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


def kubernetes_manifests(
    *,
    name: str,
    image: str,
    port: int,
    env: dict[str, str],
    metadata: dict[str, Any],
    replicas: int,
    requests: dict[str, str],
    limits: dict[str, str],
    service_port: int,
    namespace: str | None = None,
    autoscale: tuple[int, int, int] | None = None,
) -> list[dict[str, Any]]:
    """A Deployment, a Service and, with ``autoscale=(min, max, cpu %)``, an HPA."""
    labels = _labels(name, metadata)
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    annotations = _annotations(metadata)
    if annotations:
        meta["annotations"] = annotations
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "resources": {"requests": requests, **({"limits": limits} if limits else {})},
        # Loading a large model can take a while: liveness starts once startup succeeded.
        "startupProbe": _probe(port, period=5, failures=60),
        "readinessProbe": _probe(port, period=10, failures=3),
        "livenessProbe": _probe(port, period=20, failures=3),
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {NAME_LABEL: name}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": {
            "metadata": {"labels": labels, **({"annotations": annotations} if annotations else {})},
            "spec": {
                "securityContext": {"runAsNonRoot": True},
                "terminationGracePeriodSeconds": 40,  # gunicorn's graceful_timeout is 30 s
                "containers": [container],
            },
        },
    }
    if autoscale is None:  # with an HPA, the HPA owns the replica count
        spec = {"replicas": replicas, **spec}
    documents = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "type": "ClusterIP",
                "selector": {NAME_LABEL: name},
                "ports": [
                    {"name": "http", "port": service_port, "targetPort": port, "protocol": "TCP"}
                ],
            },
        },
    ]
    if autoscale is not None:
        low, high, cpu = autoscale
        documents.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": meta,
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": low,
                    "maxReplicas": high,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": cpu},
                            },
                        }
                    ],
                },
            }
        )
    return documents


def marathon_app(
    *,
    name: str,
    image: str,
    port: int,
    env: dict[str, str],
    metadata: dict[str, Any],
    instances: int,
    cpus: float,
    mem: float,
    service_port: int,
    grace_period: int,
    min_health_capacity: float,
) -> dict[str, Any]:
    """Palladium's Marathon app JSON for the predict image."""
    return {
        "id": name,
        "container": {
            "type": "DOCKER",
            "docker": {
                "image": image,
                "network": "BRIDGE",
                "parameters": [],
                "portMappings": [
                    {
                        "containerPort": port,
                        "hostPort": 0,
                        "servicePort": service_port,
                        "protocol": "tcp",
                    }
                ],
            },
            "volumes": [],
        },
        "env": env,
        "labels": {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()},
        "cpus": cpus,
        "mem": mem,
        "instances": instances,
        "healthChecks": [
            {
                "protocol": "HTTP",
                "portIndex": 0,
                "path": HEALTH_PATH,
                "gracePeriodSeconds": grace_period,
                "intervalSeconds": 20,
                "maxConsecutiveFailures": 3,
            }
        ],
        "upgradeStrategy": {"minimumHealthCapacity": min_health_capacity},
    }


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text)
    click.echo(f"Wrote {output}.", err=True)


def _shared(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options both manifests take."""
    options = [
        common_options,
        click.option("--image", required=True, help="The predict image, e.g. me/iris-predict:1."),
        click.option("--name", help="App name. Default: service_name, else the image's name."),
        click.option(
            "--port", default=8000, show_default=True, type=int, help="The container's port."
        ),
        click.option(
            "--image-config",
            default="/app/config.py",
            show_default=True,
            help="PLD_CONFIG inside the container.",
        ),
        click.option("--env", multiple=True, metavar="NAME=VALUE", help="Extra environment."),
        click.option(
            "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Output file."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group("manifest")
def manifest_group() -> None:
    """Write deployment manifests (Kubernetes YAML, Marathon JSON) for the predict image."""


@manifest_group.command("kubernetes")
@_shared
@click.option(
    "--replicas", default=2, show_default=True, type=click.IntRange(min=0), help="Pods to run."
)
@click.option("--cpu", default="500m", show_default=True, help="CPU request per pod.")
@click.option("--memory", default="512Mi", show_default=True, help="Memory request per pod.")
@click.option("--memory-limit", default="1Gi", show_default=True, help="Memory limit per pod.")
@click.option("--cpu-limit", help="CPU limit per pod. Default: none (no throttling).")
@click.option("--service-port", default=80, show_default=True, type=int, help="The Service's port.")
@click.option("--namespace", help="Put every object in this namespace.")
@click.option(
    "--min-replicas", type=click.IntRange(min=1), help="HPA minimum (default: --replicas)."
)
@click.option("--max-replicas", type=click.IntRange(min=1), help="Add an HPA scaling up to this.")
@click.option(
    "--cpu-target",
    default=70,
    show_default=True,
    type=click.IntRange(1, 100),
    help="HPA target: average CPU use, % of the request.",
)
def kubernetes_command(
    image: str,
    name: str | None,
    port: int,
    image_config: str,
    env: tuple[str, ...],
    output: Path | None,
    replicas: int,
    cpu: str,
    memory: str,
    memory_limit: str,
    cpu_limit: str | None,
    service_port: int,
    namespace: str | None,
    min_replicas: int | None,
    max_replicas: int | None,
    cpu_target: int,
) -> None:
    """A Deployment (probes on /alive), a Service and optionally an HPA, as YAML."""
    import yaml

    metadata = service_metadata()
    autoscale = None
    if max_replicas is not None:
        low = min_replicas if min_replicas is not None else max(replicas, 1)
        if low > max_replicas:
            raise PldError(f"--min-replicas {low} is more than --max-replicas {max_replicas}")
        autoscale = (low, max_replicas, cpu_target)
    elif min_replicas is not None:
        raise PldError("--min-replicas needs --max-replicas")
    limits = {"memory": memory_limit} if memory_limit else {}
    if cpu_limit:
        limits["cpu"] = cpu_limit
    documents = kubernetes_manifests(
        name=app_name(name, image, metadata),
        image=image,
        port=port,
        env=_env(image_config, env),
        metadata=metadata,
        replicas=replicas,
        requests={"cpu": cpu, "memory": memory},
        limits=limits,
        service_port=service_port,
        namespace=namespace,
        autoscale=autoscale,
    )

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # write shared labels out, no &id001
            return True

    text = yaml.dump_all(documents, Dumper=Dumper, sort_keys=False, explicit_start=True)
    _emit(text, output)


@manifest_group.command("marathon")
@_shared
@click.option("--instances", "--replicas", default=3, show_default=True, type=click.IntRange(min=0))
@click.option("--cpus", default=1.0, show_default=True, type=float, help="CPUs per instance.")
@click.option("--mem", default=1024.0, show_default=True, type=float, help="MiB per instance.")
@click.option("--service-port", default=0, show_default=True, type=int, help="0: Marathon picks.")
@click.option("--grace-period", default=60, show_default=True, type=int, help="Health check grace.")
@click.option("--min-health-capacity", default=0.5, show_default=True, type=click.FloatRange(0, 1))
def marathon_command(
    image: str,
    name: str | None,
    port: int,
    image_config: str,
    env: tuple[str, ...],
    output: Path | None,
    instances: int,
    cpus: float,
    mem: float,
    service_port: int,
    grace_period: int,
    min_health_capacity: float,
) -> None:
    """The Marathon app JSON (Palladium's layout), health checks on /alive."""
    metadata = service_metadata()
    app = marathon_app(
        name=app_name(name, image, metadata),
        image=image,
        port=port,
        env=_env(image_config, env),
        metadata=metadata,
        instances=instances,
        cpus=cpus,
        mem=mem,
        service_port=service_port,
        grace_period=grace_period,
        min_health_capacity=min_health_capacity,
    )
    _emit(json.dumps(app, indent=2) + "\n", output)
