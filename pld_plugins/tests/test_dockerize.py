"""``pld dockerize``: the Dockerfiles are parsed and every instruction checked against the app.

No Docker engine runs here: a fake ``docker`` on PATH stands in, reachable or not.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from pld_core import PldError
from pld_plugins import deploy
from pld_plugins.deploy.dockerize import predict_image_name

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KNOWN = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip
APP_ROOT = "/app/"


def parse(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions as (NAME, arguments), continuation lines joined."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments and blank lines, also inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        name, _, args = (pending + stripped).partition(" ")
        instructions.append((name.upper(), args.strip()))
        pending = ""
    assert not pending, f"unfinished continuation: {pending!r}"
    return instructions


def run(*args: str, path: str | None = None) -> Result:
    """``pld <args>`` in-process, through the plugin's own hook."""
    cli = click.Group("pld")
    deploy.pld_register_commands(cli=cli)
    env = {"PATH": path} if path else None
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def fake_docker(tmp_path: Path, engine: bool) -> str:
    """A PATH whose ``docker`` logs its arguments; ``docker info`` fails without engine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    log = tmp_path / "docker.log"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {shlex.quote(str(log))}\n'
        f'if [ "$1" = info ]; then exit {0 if engine else 1}; fi\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    """A copy of examples/iris (config.py and its data, nothing optional)."""
    app = tmp_path / "iris"
    shutil.copytree(REPO / "examples" / "iris", app)
    return app


def check_app_dockerfile(app: Path, base: str) -> list[tuple[str, str]]:
    """Check every instruction of Dockerfile-app against the app folder."""
    text = (app / "Dockerfile-app").read_text()
    assert "MAINTAINER" not in text and "sudo" not in text
    instructions = parse(text)
    assert instructions[0] == ("FROM", base)
    user = None
    for name, args in instructions:
        assert name in KNOWN, name
        if name == "COPY":
            words = [w for w in args.split() if not w.startswith("--")]
            *sources, target = words
            assert target.startswith("/app")
            for source in sources:
                assert (app / source).exists(), source
        elif name == "RUN" and "pip install" in args:
            assert "--no-cache-dir" in args
            words = shlex.split(args)
            for flag in ("-r", "--find-links"):
                if flag in words:
                    assert (app / words[words.index(flag) + 1]).exists()
            for word in words:
                if word.startswith("python_packages/"):
                    assert (app / word).is_file(), word
        elif name == "ENV" and args.startswith("PLD_CONFIG="):
            config = args.partition("=")[2]
            assert config.startswith(APP_ROOT) and (app / config[len(APP_ROOT) :]).is_file()
        elif name == "WORKDIR":
            assert args == "/app"
        elif name == "USER":
            user = args
    assert user is not None and user.split(":")[0] not in ("root", "0")
    assert instructions[-1][0] == "USER"  # nothing after it runs as root
    assert ("ENV", "PLD_CONFIG=/app/config.py") in instructions
    return instructions


def check_predict_dockerfile(app: Path, image: str, port: int = 8000) -> list[tuple[str, str]]:
    """Check every instruction of Dockerfile-predict."""
    instructions = parse((app / "Dockerfile-predict").read_text())
    assert instructions[0] == ("FROM", image)
    names = [name for name, _ in instructions]
    assert set(names) <= KNOWN
    assert ("EXPOSE", str(port)) in instructions
    healthcheck = dict(instructions)["HEALTHCHECK"]
    flags, _, probe = healthcheck.partition(" CMD ")
    assert "--interval=" in flags and "--timeout=" in flags
    assert f"http://127.0.0.1:{port}/alive" in " ".join(json.loads(probe))
    cmd = json.loads(instructions[-1][1])
    assert instructions[-1][0] == "CMD" and names.count("CMD") == 1
    assert cmd[0] == "gunicorn" and cmd[-1] == "pld_core.wsgi:app"
    assert cmd[cmd.index("--bind") + 1] == f"0.0.0.0:{port}"
    config = cmd[cmd.index("--config") + 1]
    if config.startswith("python:"):
        settings = importlib.import_module(config.removeprefix("python:"))
        # A slow client holds a thread, not a worker: the image has no proxy in front.
        assert settings.worker_class == "gthread" and settings.threads > 1
    else:
        assert (app / config.removeprefix(APP_ROOT)).is_file()
    return instructions


def test_the_script_writes_both_dockerfiles_for_the_iris_example(iris):
    done = subprocess.run(
        [str(BIN / "pld-dockerize"), "-d", "iris", "base:tag", "me/iris:1"],
        cwd=iris.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Wrote iris/Dockerfile-app and iris/Dockerfile-predict.\n"
    app = check_app_dockerfile(iris, "base:tag")
    pip = next(args for name, args in app if name == "RUN")
    assert "pld-core==" in pip and "pld-plugins==" in pip and "gunicorn" in pip
    assert "-r " not in pip and "python_packages" not in pip
    assert not any(name == "COPY" and "requirements" in args for name, args in app)
    predict = check_predict_dockerfile(iris, "me/iris:1")
    assert not any(args.startswith("pld fit") for name, args in predict if name == "RUN")
    assert ".git" in (iris / "Dockerfile-app.dockerignore").read_text().split()


def test_requirements_packages_and_an_installable_app(iris, tmp_path):
    (iris / "requirements.txt").write_text("lightgbm==4.5.0\n")
    (iris / "python_packages").mkdir()
    for name in ("mylib-1.0-py3-none-any.whl", "other-2.0.tar.gz", "README"):
        (iris / "python_packages" / name).write_text("")
    (iris / "pyproject.toml").write_text("[project]\nname = 'iris-app'\n")
    (iris / "gunicorn.conf.py").write_text("workers = 4\n")
    out = tmp_path / "out"
    options = ["-d", "-o", str(out), "--fit", "--port", "9000"]
    result = run("dockerize", *options, str(iris), "python:3.12-slim", "registry:5000/me/iris:2")
    assert result.exit_code == 0, result.output
    assert not (iris / "Dockerfile-app").exists()
    for name in ("Dockerfile-app", "Dockerfile-predict"):  # checked against the app folder
        shutil.copy(out / name, iris / name)
    app = check_app_dockerfile(iris, "python:3.12-slim")
    assert ("COPY", "requirements.txt /app/requirements.txt") in app
    assert ("COPY", "python_packages/ /app/python_packages/") in app
    pip = shlex.split(next(args for name, args in app if name == "RUN"))
    assert pip[pip.index("-r") + 1] == "requirements.txt"
    assert "python_packages/mylib-1.0-py3-none-any.whl" in pip
    assert "python_packages/other-2.0.tar.gz" in pip and "python_packages/README" not in pip
    assert ("RUN", "python -m pip install --no-cache-dir /app") in app
    predict = check_predict_dockerfile(iris, "registry:5000/me/iris:2", port=9000)
    assert ("RUN", "pld fit") in predict
    assert "/app/gunicorn.conf.py" in predict[-1][1]


def test_dist_replaces_the_installed_pld_distributions(iris):
    dists = ["--dist", "pld-core==0.1.0", "--dist", "pld-plugins"]
    result = run("dockerize", "-d", *dists, str(iris), "b:1", "i:1")
    assert result.exit_code == 0, result.output
    app = parse((iris / "Dockerfile-app").read_text())
    pip = shlex.split(next(args for name, args in app if name == "RUN"))
    assert pip[:5] == ["python", "-m", "pip", "install", "--no-cache-dir"]
    assert pip[5:7] == ["pld-core==0.1.0", "pld-plugins"]
    assert pip[7].startswith("gunicorn==") and len(pip) == 8


def test_server_granian_serves_the_image_with_pld_granian(iris):
    options = ("--server", "granian", "--port", "9000")
    result = run("dockerize", "-d", *options, str(iris), "b:1", "i:1")
    assert result.exit_code == 0, result.output
    app = check_app_dockerfile(iris, "b:1")
    pip = shlex.split(next(args for name, args in app if name == "RUN"))
    assert any(word.startswith("granian") for word in pip)
    assert not any(word.startswith("gunicorn") for word in pip)
    predict = parse((iris / "Dockerfile-predict").read_text())
    assert ("EXPOSE", "9000") in predict
    assert predict[-1][0] == "CMD"
    assert json.loads(predict[-1][1]) == ["pld", "granian", "--bind", "0.0.0.0:9000"]
    assert "serves the app image with granian" in (iris / "Dockerfile-predict").read_text()


def test_without_a_docker_engine_it_says_so_in_one_line(iris, tmp_path):
    path = fake_docker(tmp_path, engine=False)
    done = subprocess.run(
        [str(BIN / "pld"), "dockerize", str(iris), "base:tag", "me/iris:1"],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and "No Docker engine" in done.stdout
    assert (iris / "Dockerfile-app").is_file() and (iris / "Dockerfile-predict").is_file()
    assert (tmp_path / "docker.log").read_text().split() == ["info"]


def test_with_a_docker_engine_it_builds_both_images(iris, tmp_path):
    result = run("dockerize", str(iris), "base:tag", "me/iris:1", path=fake_docker(tmp_path, True))
    assert result.exit_code == 0, result.output
    assert result.output == "Built me/iris:1 and me/iris-predict:1.\n"
    assert (tmp_path / "docker.log").read_text().splitlines() == [
        "info",
        f"build -f {iris / 'Dockerfile-app'} -t me/iris:1 {iris}",
        f"build -f {iris / 'Dockerfile-predict'} -t me/iris-predict:1 {iris}",
    ]


@pytest.mark.parametrize(
    ("image", "predict"),
    [
        ("me/iris:1", "me/iris-predict:1"),
        ("iris", "iris-predict"),
        ("localhost:5000/team/iris:2.0", "localhost:5000/team/iris-predict:2.0"),
    ],
)
def test_predict_image_name(image, predict):
    assert predict_image_name(image) == predict


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{app}", "base:tag", "Me/Iris:1"], "Error: IMAGE_NAME 'Me/Iris:1' is not a valid"),
        (["{app}/missing", "base:tag", "me/iris:1"], "missing: not a folder"),
        (["--app-config", "prod.py", "{app}", "b:1", "me/iris:1"], "no prod.py; the app folder"),
    ],
)
def test_errors_are_one_line(iris, args, message):
    done = subprocess.run(
        [str(BIN / "pld"), "dockerize", "-d", *(a.format(app=iris) for a in args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("base", "warned"),
    [
        ("python", True),
        ("python:latest", True),
        ("python:3.12.8-slim-bookworm", False),
        ("ghcr.io/org/py:3.12", False),
        ("python@sha256:" + "a" * 64, False),
    ],
)
def test_base_images_pinned_or_warned(iris, base, warned):
    result = run("dockerize", "-d", str(iris), base, "me/iris:1")
    assert result.exit_code == 0
    assert ("Warning: pin BASE_IMAGE" in result.stderr) is warned
    assert parse((iris / "Dockerfile-app").read_text())[0] == ("FROM", base)


def test_a_digest_is_for_the_base_image_only(iris):
    with pytest.raises(PldError, match="a digest must be"):
        run("dockerize", "-d", str(iris), "python:3.12", "me/iris@sha256:" + "a" * 64)
