"""Start-up benchmark: how long each ``pld`` command takes before it does its work.

Runs each command ``--runs`` times in a fresh process and prints the median wall time and the
median CPU time (user + system of the child, which load on a shared machine disturbs less than
wall time), next to a bare ``python -c pass``. The commands: ``pld --help``, ``pld list`` and
``pld admin`` on a File store, ``pld plugins``, ``pld version`` and two config errors. Then the
server's cold start, spawn to first 200 under gunicorn (1 sync worker), pld's app on a SQLite
and on a File store against bench/raw_app.py serving the same model. ``--imports`` adds, per
command, the data-stack modules it imported and the biggest top-level imports from
``python -X importtime``, whose shape does not depend on load.

    python bench/startup.py [--runs 5] [--imports] [--no-server]

The server part needs gunicorn (``pip install 'pld-plugins[serve]'``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "pandas", "sklearn", "scipy", "sqlalchemy")
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
QUERY = "sepal%20length=6.3&sepal%20width=2.5&petal%20length=4.9&petal%20width=1.5"
FILE_CONFIG = """{
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {'!': 'file', 'path': here + '/models/model-{version}'},
}"""
SERVE_CONFIG = """{
    'service_metadata': {'service_name': 'iris', 'service_version': '0.1'},
    'dataset_loader_train': {
        '!': 'table', 'path': %(data)r, 'sep': ',', 'nrows': 100,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
    },
    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},
    'model_persister': {'!': 'cached-update', 'impl': %(store)s},
    'predict_service': {'!': 'predict-service', 'mapping': %(mapping)r},
    'logging': {'version': 1, 'disable_existing_loggers': False,
                'root': {'level': 'WARNING'}},
}"""
BROKEN_CONFIG = "{'model': {'!': 'sklearn.linear_model.LogisticRegression',}\n"
#: Reports which data-stack modules a command imported, then runs it (``--imports``).
PROBE = """import atexit, sys
atexit.register(lambda: print("HEAVY=" + ",".join(
    m for m in %r if m in sys.modules), file=sys.__stderr__))
from pld_core.cli import main
main(sys.argv[1:], prog_name="pld")
"""


def commands(folder: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    """(label, pld arguments, extra environment) per measured command."""
    file_config = folder / "file-config.py"
    file_config.write_text(FILE_CONFIG)
    broken = folder / "broken-config.py"
    broken.write_text(BROKEN_CONFIG)
    on_file = {"PLD_CONFIG": str(file_config)}
    return [
        ("pld --help", ["--help"], {}),
        ("pld list (File store)", ["list"], on_file),
        ("pld admin (usage)", ["admin"], on_file),
        ("pld admin activate 9 (File store)", ["admin", "activate", "9"], on_file),
        ("pld plugins", ["plugins"], {}),
        ("pld version", ["version"], {}),
        ("config error: syntax", ["list"], {"PLD_CONFIG": str(broken)}),
        ("config error: no config", ["list"], {"PLD_CONFIG": ""}),
    ]


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _pid, _status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = 0  # reaped by wait4
    return wall, usage.ru_utime + usage.ru_stime


def measure(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float]:
    run_once(argv, env, cwd)  # warm-up: writes the bytecode caches, fills the page cache
    samples = [run_once(argv, env, cwd) for _ in range(runs)]
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def imports(args: list[str], env: dict[str, str], cwd: Path) -> tuple[str, list[str]]:
    """The data-stack modules one run imported and its biggest top-level imports (ms)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE % (HEAVY,), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    heavy = ""
    top: list[tuple[int, str]] = []
    for line in result.stderr.splitlines():
        if line.startswith("HEAVY="):
            heavy = line[len("HEAVY=") :] or "none"
        elif line.startswith("import time:") and "|" in line:
            _self, cumulative, name = line[len("import time:") :].split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):
                top.append((int(cumulative), name.strip()))
    top.sort(reverse=True)
    return heavy, [f"{name} {us / 1000:.0f}" for us, name in top[:6]]


def script(name: str) -> str:
    """The installed console script itself (not a pyenv shim, whose start-up would count)."""
    path = Path(sysconfig.get_path("scripts")) / name
    return str(path) if path.exists() else shutil.which(name) or name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cold_start(app: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds from spawning gunicorn (1 sync worker) to the first 200 on /predict, and
    the CPU seconds gunicorn and its worker spent until then."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [script("gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", app],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < 120:
            try:
                url = f"http://127.0.0.1:{port}/predict?{QUERY}"
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == 200:
                        wall = time.perf_counter() - started
                        return wall, cpu_seconds(process.pid)
            except OSError:
                time.sleep(0.005)
        raise RuntimeError(f"{app} did not answer within 120 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far."""
    import psutil

    master = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in (master, *master.children(recursive=True)))


STORES = {
    "SQLite store": "{'!': 'database', 'url': 'sqlite:///' + here + '/models.db'}",
    "File store": "{'!': 'file', 'path': here + '/model-{version}'}",
}


def prepare_server(folder: Path) -> tuple[dict[str, Path], Path]:
    """Fit the iris model with pld into each store; pickle it for the raw app."""
    configs = {}
    for label, store in STORES.items():
        config = folder / f"serve-{label.split()[0].lower()}.py"
        config.write_text(
            SERVE_CONFIG
            % {
                "data": str(REPO / "examples" / "iris" / "iris.data"),
                "mapping": [(f, "float") for f in FIELDS],
                "store": store,
            }
        )
        env = {**os.environ, "PLD_CONFIG": str(config)}
        subprocess.run([script("pld"), "fit"], env=env, check=True, cwd=folder, capture_output=True)
        configs[label] = config
    from pld_core import load_config

    first = next(iter(configs.values()))
    model = load_config(str(first), __mode__="fit")["model_persister"].read()
    model_path = folder / "model.pickle"
    model_path.write_bytes(pickle.dumps(model))
    return configs, model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--imports", action="store_true", help="show what each command imports")
    parser.add_argument("--no-server", action="store_true", help="skip the server cold start")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="compile every module on every run (as with PYTHONDONTWRITEBYTECODE=1)",
    )
    options = parser.parse_args()
    pld = [script("pld")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base_env = {
            k: v for k, v in os.environ.items() if k not in ("PLD_CONFIG", "PALLADIUM_CONFIG")
        }
        if options.no_bytecode:
            base_env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:  # as installed: modules load from bytecode caches (kept out of the source tree)
            base_env.pop("PYTHONDONTWRITEBYTECODE", None)
            base_env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        wall, cpu = measure([sys.executable, "-c", "pass"], base_env, folder, options.runs)
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, median of "
            f"{options.runs} runs, bytecode caches {'off' if options.no_bytecode else 'on'}"
        )
        print(f"{'command':<36}{'wall s':>8}{'CPU s':>8}")
        print(f"{'python -c pass':<36}{wall:>8.2f}{cpu:>8.2f}")
        for label, args, extra in commands(folder):
            env = {**base_env, **extra}
            wall, cpu = measure([*pld, *args], env, folder, options.runs)
            print(f"{label:<36}{wall:>8.2f}{cpu:>8.2f}")
            if options.imports:
                heavy, top = imports(args, env, folder)
                print(f"    data stack imported: {heavy}")
                print(f"    top imports (ms): {', '.join(top)}")
        if options.no_server:
            return
        if not Path(script("gunicorn")).exists() and not shutil.which("gunicorn"):
            sys.exit("bench: gunicorn is not installed (pip install 'pld-plugins[serve]')")
        configs, model_path = prepare_server(folder)
        apps = {
            "raw": (
                "raw_app:app",
                {"RAW_MODEL_PATH": str(model_path), "PYTHONPATH": str(REPO / "bench")},
            ),
            **{
                f"pld, {label}": ("pld_core.wsgi:app", {"PLD_CONFIG": str(config)})
                for label, config in configs.items()
            },
        }
        colds: dict[str, list[tuple[float, float]]] = {label: [] for label in apps}
        for app, extra in apps.values():  # warm-up, as for the commands
            cold_start(app, {**base_env, **extra}, folder)
        for _ in range(options.runs):  # alternate, so drift in load hits all alike
            for label, (app, extra) in apps.items():
                colds[label].append(cold_start(app, {**base_env, **extra}, folder))
        raw_wall = statistics.median(w for w, _ in colds["raw"])
        raw_cpu = statistics.median(c for _, c in colds["raw"])
        print("server cold start, spawn to first 200 (gunicorn, 1 sync worker):")
        print(f"    {'':<24}{'wall s':>8}{'CPU s':>8}   pld - raw (wall, CPU)")
        for label, samples in colds.items():
            wall = statistics.median(w for w, _ in samples)
            cpu = statistics.median(c for _, c in samples)
            versus = "" if label == "raw" else f"   {wall - raw_wall:+.2f}, {cpu - raw_cpu:+.2f}"
            print(f"    {label:<24}{wall:>8.2f}{cpu:>8.2f}{versus}")


if __name__ == "__main__":
    main()
