"""``pld dockerize``: two Dockerfiles for an app folder, built into images when Docker is there.

Palladium's ``pld-dockerize`` split the work in two images and pld keeps the split and the
folder layout (``config.py``, optional ``requirements.txt`` and ``python_packages/``):
``Dockerfile-app`` puts the app and its dependencies on a base image; ``Dockerfile-predict``
serves the app image with gunicorn (or granian). What changed is current Docker practice: no
``MAINTAINER``, no ``sudo``, a non-root user, ``pip --no-cache-dir``, a health check on
``/alive``, and no training at build time unless asked for.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from pld_core import PldError, common_options, make_script

__all__ = ["AppFolder", "dockerize_command", "predict_image_name", "script"]

APP_ROOT = "/app"
USER = "10001:10001"  # numeric, so it works on any base image and satisfies runAsNonRoot
PACKAGE_SUFFIXES = (".whl", ".tar.gz", ".zip")
GUNICORN_CONF = "gunicorn.conf.py"
DEFAULT_GUNICORN_CONF = "python:pld_plugins.deploy.gunicorn_conf"
IGNORED = (".git", ".venv", "**/__pycache__", "**/*.pyc", "Dockerfile-*")
_NAME = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"  # registry host[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

# pld_core exports its CLI helpers through a lazy module __getattr__, so a type checker sees
# them as Any; this gives the decorator the signature of pld_core's common_options.
_common_options: Callable[[Callable[..., Any]], Callable[..., Any]] = common_options


@dataclass(frozen=True)
class AppFolder:
    """What ``pld dockerize`` found in an app folder."""

    path: Path
    config: str
    requirements: bool
    packages: tuple[str, ...]
    installable: bool
    gunicorn_conf: bool

    @classmethod
    def inspect(cls, path: Path, config: str = "config.py") -> AppFolder:
        if not path.is_dir():
            raise PldError(f"{path}: not a folder")
        if not (path / config).is_file():
            raise PldError(f"{path}: no {config}; the app folder needs its config file at the top")
        packages: tuple[str, ...] = ()
        if (path / "python_packages").is_dir():
            packages = tuple(
                sorted(
                    f"python_packages/{p.name}"
                    for p in (path / "python_packages").iterdir()
                    if p.is_file() and p.name.endswith(PACKAGE_SUFFIXES)
                )
            )
        return cls(
            path=path,
            config=config,
            requirements=(path / "requirements.txt").is_file(),
            packages=packages,
            installable=(path / "pyproject.toml").is_file() or (path / "setup.py").is_file(),
            gunicorn_conf=(path / GUNICORN_CONF).is_file(),
        )


def pld_distributions() -> list[str]:
    """pld-core and every installed distribution providing ``pld`` plugins, pinned."""
    names = {"pld-core"}
    for entry_point in metadata.entry_points(group="pld"):
        if entry_point.dist is not None:
            names.add(_canonical(entry_point.dist.name))
    pinned = []
    for name in sorted(names):
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pinned.append(name)
    return pinned


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


#: The servers an image can run, and the pin used when the server is not installed here.
SERVERS = {"gunicorn": "gunicorn>=22", "granian": "granian>=2.8"}


def _server_requirement(server: str) -> str:
    """The server, pinned to the version installed here."""
    try:
        return f"{server}=={metadata.version(server)}"
    except metadata.PackageNotFoundError:
        return SERVERS[server]


def predict_image_name(image: str) -> str:
    """``me/iris:1`` → ``me/iris-predict:1`` (the tag is after the last ``/``)."""
    head, _, last = image.rpartition("/")
    repo, colon, tag = last.partition(":")
    return f"{head}{'/' if head else ''}{repo}-predict{colon}{tag}"


def _run_lines(commands: list[str]) -> str:
    return " \\\n    ".join(commands)


def render_app(app: AppFolder, base_image: str, requirements: list[str]) -> str:
    """The text of ``Dockerfile-app``."""
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# Dockerfile-app, written by `pld dockerize` for {app.path.name}: the app and its",
        "# dependencies. Build from the app folder: docker build -f Dockerfile-app -t IMAGE .",
        f"FROM {base_image}",
        _run_lines(
            [
                "ENV PYTHONDONTWRITEBYTECODE=1",
                "PYTHONUNBUFFERED=1",
                "PIP_DISABLE_PIP_VERSION_CHECK=1",
                "PIP_ROOT_USER_ACTION=ignore",
                "LANG=C.UTF-8",
            ]
        ),
        f"WORKDIR {APP_ROOT}",
    ]
    install = ["RUN python -m pip install --no-cache-dir"]
    if app.requirements:
        lines.append(f"COPY requirements.txt {APP_ROOT}/requirements.txt")
        install.append("-r requirements.txt")
    if app.packages:
        lines.append(f"COPY python_packages/ {APP_ROOT}/python_packages/")
        # Local wheels also satisfy the pld pins below (until pld is on an index you use).
        install.append("--find-links python_packages")
        install.extend(shlex.quote(p) for p in app.packages)
    install.extend(shlex.quote(r) for r in requirements)
    lines.append(_run_lines(install))
    lines.append(f"COPY --chown={USER} . {APP_ROOT}")
    if app.installable:
        lines.append(f"RUN python -m pip install --no-cache-dir {APP_ROOT}")
    lines += [f"ENV PLD_CONFIG={APP_ROOT}/{app.config}", f"USER {USER}"]
    return "\n".join(lines) + "\n"


def render_predict(
    app: AppFolder, app_image: str, port: int, fit: bool, server: str = "gunicorn"
) -> str:
    """The text of ``Dockerfile-predict``, serving with ``server`` (gunicorn or granian)."""
    url = f"http://127.0.0.1:{port}/alive"
    probe = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=4)"
    if server == "granian":
        cmd = ["pld", "granian", "--bind", f"0.0.0.0:{port}"]
    else:
        conf = f"{APP_ROOT}/{GUNICORN_CONF}" if app.gunicorn_conf else DEFAULT_GUNICORN_CONF
        cmd = ["gunicorn", "--config", conf, "--bind", f"0.0.0.0:{port}", "pld_core.wsgi:app"]
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# Dockerfile-predict, written by `pld dockerize`: serves the app image with {server}.",
        f"FROM {app_image}",
    ]
    if fit:
        lines += [
            "# Trains at build time: the image holds the model (and its store).",
            "RUN pld fit",
        ]
    lines += [
        f"EXPOSE {port}",
        _run_lines(
            [
                "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3",
                f"CMD {json.dumps(['python', '-c', probe])}",
            ]
        ),
        f"CMD {json.dumps(cmd)}",
    ]
    return "\n".join(lines) + "\n"


def docker_reachable(docker: str | None) -> bool:
    """Whether ``docker info`` succeeds: a client and a running engine."""
    if docker is None:
        return False
    try:
        done = subprocess.run(
            [docker, "info"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _check_image(kind: str, image: str, digest_ok: bool = False) -> None:
    name, at, digest = image.partition("@")
    if at and not (digest_ok and _DIGEST.fullmatch(digest)):
        raise PldError(f"{kind} {image!r}: a digest must be @sha256: and 64 hex digits")
    if not _NAME.fullmatch(name):
        raise PldError(f"{kind} {image!r} is not a valid Docker image name like 'me/iris:1'")


@click.command("dockerize")
@_common_options
@click.argument("app_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("base_image")
@click.argument("image_name")
@click.option(
    "-d", "--dockerfiles-only", is_flag=True, help="Write the Dockerfiles, build nothing."
)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the Dockerfiles. Default: APP_DIR.",
)
@click.option(
    "--app-config",
    default="config.py",
    show_default=True,
    help="The config file in APP_DIR that the image serves (PLD_CONFIG).",
)
@click.option("--port", default=8000, show_default=True, type=int, help="Port the server binds.")
@click.option(
    "--server",
    type=click.Choice(list(SERVERS)),
    default="gunicorn",
    show_default=True,
    help="The predict image's server: gunicorn, or granian (faster; see docs/deployment.md).",
)
@click.option("--fit", is_flag=True, help="Run `pld fit` while building the predict image.")
@click.option(
    "--dist",
    "dists",
    multiple=True,
    metavar="SPEC",
    help="pip requirement for pld (repeatable); replaces the installed pld distributions.",
)
def dockerize_command(
    app_dir: Path,
    base_image: str,
    image_name: str,
    dockerfiles_only: bool,
    output_dir: Path | None,
    app_config: str,
    port: int,
    server: str,
    fit: bool,
    dists: tuple[str, ...],
) -> None:
    """Write Dockerfile-app and Dockerfile-predict for APP_DIR, and build them with Docker.

    IMAGE_NAME gets the app on BASE_IMAGE (pin it: python:3.12.8-slim-bookworm, or a digest);
    IMAGE_NAME with -predict added to its repository serves it with --server on --port.
    """
    _check_image("BASE_IMAGE", base_image, digest_ok=True)
    _check_image("IMAGE_NAME", image_name)
    if ":" not in base_image.rpartition("/")[2] or base_image.endswith(":latest"):
        click.echo(f"Warning: pin BASE_IMAGE to a version tag, not {base_image!r}.", err=True)
    app = AppFolder.inspect(app_dir, app_config)
    requirements = list(dists) or pld_distributions()
    if not any(_canonical(r).startswith(server) for r in requirements):
        requirements.append(_server_requirement(server))
    predict_image = predict_image_name(image_name)
    out = output_dir or app_dir
    out.mkdir(parents=True, exist_ok=True)
    app_file, predict_file = out / "Dockerfile-app", out / "Dockerfile-predict"
    app_file.write_text(render_app(app, base_image, requirements))
    (out / "Dockerfile-app.dockerignore").write_text("\n".join(IGNORED) + "\n")
    predict_file.write_text(render_predict(app, image_name, port, fit, server))
    builds = [
        ["build", "-f", str(app_file), "-t", image_name, str(app_dir)],
        ["build", "-f", str(predict_file), "-t", predict_image, str(app_dir)],
    ]
    if dockerfiles_only:
        click.echo(f"Wrote {app_file} and {predict_file}.")
        return
    docker = shutil.which("docker")
    if not docker_reachable(docker):
        click.echo(
            f"No Docker engine is reachable (docker info failed): wrote {app_file} and "
            f"{predict_file}, built nothing."
        )
        return
    for args in builds:
        done = subprocess.run([str(docker), *args], check=False)
        if done.returncode != 0:
            raise PldError(f"docker {shlex.join(args)} failed with exit status {done.returncode}")
    click.echo(f"Built {image_name} and {predict_image}.")


script = make_script("pld-dockerize", "dockerize")
