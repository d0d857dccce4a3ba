"""Named tasks for the pld repository: ``nox -l`` lists them, ``nox`` runs the defaults.

Adding a distribution means adding it to ``DISTS`` here and to the factor lines in ``tox.ini``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
DISTS = ("pld_core", "pld_plugins", "pld_r", "pld_julia")
EXAMPLE_PLUGIN = ROOT / "examples" / "pld-example-persister"
DATA_STACK = ("numpy", "pandas", "sklearn", "sqlalchemy", "scipy")
# Type stubs mypy needs for the distributions' untyped dependencies (also in .ci/run's tools).
TYPE_STUBS = ("types-requests", "types-PyYAML", "types-python-dateutil", "types-psutil")

# argv[1:] are the data-stack modules that must be neither imported nor installed.
CORE_ISOLATION_CHECK = """\
import importlib.util, sys
import pld_core, pld_core.cli, pld_core.config
loaded = [m for m in sys.argv[1:] if m in sys.modules]
assert not loaded, f"importing pld_core imported {loaded}"
installed = [m for m in sys.argv[1:] if importlib.util.find_spec(m)]
assert not installed, f"installing pld-core installed {installed}"
print("pld-core", pld_core.__version__, "imports without", *sys.argv[1:])
"""

nox.options.sessions = [
    "tests",
    "core_without_data_stack",
    "integration",
    "lint",
    "imports",
    "typecheck",
]


def test_group(dist: str) -> tuple[str, ...]:
    """The ``[dependency-groups] test`` requirements of ``dist`` (PEP 735)."""
    pyproject = nox.project.load_toml(ROOT / dist / "pyproject.toml")
    if "test" not in pyproject.get("dependency-groups", {}):
        return ()
    return nox.project.dependency_groups(pyproject, "test")


def editable(*dists: str) -> list[str]:
    """``pip install`` arguments installing ``dists`` in editable mode."""
    return [arg for dist in dists for arg in ("-e", f"./{dist}")]


@nox.session
@nox.parametrize(
    "dist",
    DISTS,
    ids=[dist.removeprefix("pld_") for dist in DISTS],
    tags=[["core"], ["plugins"], ["r"], ["julia"]],
)
def tests(session: nox.Session, dist: str) -> None:
    """Unit tests of one distribution, with pld-core and that distribution installed."""
    session.install(*editable(*dict.fromkeys(("pld_core", dist))), *test_group(dist))
    session.run("pytest", f"{dist}/tests", *session.posargs)


@nox.session
def core_without_data_stack(session: nox.Session) -> None:
    """pld-core alone, built as a wheel: imports, runs `pld`, and pulls in no data stack."""
    session.install("./pld_core")
    session.run("python", "-c", CORE_ISOLATION_CHECK, *DATA_STACK)
    session.run("pld", "--help", silent=True)
    session.run("pld", "plugins", "--json")


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-distribution tests: every distribution plus the example plugin installed."""
    targets = editable(*DISTS)
    if EXAMPLE_PLUGIN.is_dir():
        targets += ["-e", f"./{EXAMPLE_PLUGIN.relative_to(ROOT).as_posix()}"]
    requirements = dict.fromkeys(req for dist in DISTS for req in test_group(dist))
    # The integration tests also run real gunicorn servers and schemathesis.
    session.install(*targets, *requirements, "gunicorn", "schemathesis>=4")
    session.run("pytest", "tests", "examples", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting, checked (not fixed) over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def imports(session: nox.Session) -> None:
    """import-linter: each distribution's contracts (ARCHITECTURE.md, "Layers"), one by one.

    pld-core's hold with pld-core alone; each plugin distribution's with pld-core beside it.
    """
    session.install("import-linter")
    # import-linter reads the source; it needs the packages findable, not their dependencies.
    session.install("--no-deps", *editable(*DISTS))
    for dist in DISTS:
        session.run("lint-imports", f"{dist}/pyproject.toml")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy, strict, over every distribution's src/ (settings: [tool.mypy] in pyproject.toml)."""
    # mypy follows the imports into numpy, SQLAlchemy, distributed, prometheus_client...: the
    # distributions go in with their dependencies, pld-plugins with the extras it imports, and
    # pytest for pld_core.testing (pld's pytest plugin).
    session.install(
        *editable("pld_core"),
        "-e",
        "./pld_plugins[dask,metrics]",
        *editable("pld_r", "pld_julia"),
        "pytest",
        "mypy",
        *TYPE_STUBS,
    )
    session.run("mypy", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Serving benchmark: pld vs a raw Werkzeug app on gunicorn, granian and uWSGI, with wrk.

    Needs Debian's ``wrk`` on PATH. Extra arguments go to bench/serving.py, e.g.
    ``nox -s bench -- --duration 10 --runs 3``.
    """
    if not shutil.which("wrk"):
        session.error("wrk is not installed: apt-get install wrk")
    session.install(*editable("pld_core"), "-e", "./pld_plugins[serve,onnx]", "pyuwsgi")
    session.run("python", "bench/serving.py", *session.posargs)


@nox.session
def bench_reload(session: nox.Session) -> None:
    """Reload under load: failed requests and p99 during model swaps vs steady state."""
    session.install(*editable("pld_core", "pld_plugins"), "gunicorn")
    session.run("python", "bench/reload_under_load.py", *session.posargs)


@nox.session
def bench_grid_search(session: nox.Session) -> None:
    """Grid search benchmark: n_jobs=1, n_jobs=2 and a 2-worker dask LocalCluster on 127.0.0.1.

    Extra arguments go to bench/grid_search.py, e.g. ``nox -s bench_grid_search -- --nested``.
    """
    session.install(*editable("pld_core"), "-e", "./pld_plugins[dask]")
    session.run("python", "bench/grid_search.py", *session.posargs)


@nox.session
def bench_batch(session: nox.Session) -> None:
    """Batch prediction: ``pld predict`` on a large CSV vs a hand-written pandas script.

    Extra arguments go to bench/batch_predict.py, e.g. ``nox -s bench_batch -- --rows 500000``.
    """
    session.install(*editable("pld_core", "pld_plugins"))
    session.run("python", "bench/batch_predict.py", *session.posargs)
