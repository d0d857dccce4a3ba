"""The WSGI application for gunicorn and other servers: ``gunicorn pld_core.wsgi:app``.

The config comes from ``PLD_CONFIG`` (or ``PALLADIUM_CONFIG``) and is loaded at import, in
serving mode, so the model is in memory before the first request. A broken config is one line
on stderr and exit status 4, which gunicorn reads as "App failed to load" and stops, instead
of a traceback per worker and a restart loop; ``PLD_DEBUG=1`` shows the traceback instead.
Under gunicorn every worker loads the app, so the first worker to fail tells and the others
leave quietly: one line, however many workers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from pld_core.config import load_config, use_config
from pld_core.errors import PldError
from pld_core.server import App, create_app

#: The status gunicorn reads as "App failed to load" (its ``Arbiter.APP_LOAD_ERROR``).
APP_LOAD_ERROR = 4


def _load() -> App:
    try:
        config = load_config()
        config.require("model_persister", "the server reads the model to serve from it")
        use_config(config)
        return create_app(config)
    except PldError as exc:
        if os.environ.get("PLD_DEBUG"):
            raise
        if _first_to_tell():
            print(f"pld: error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(APP_LOAD_ERROR) from None
        raise SystemExit(0) from None  # gunicorn stops on the first worker's status


def _first_to_tell() -> bool:
    """Whether this process reports the error: yes, unless another worker of the same gunicorn
    master already did (they all start together and fail alike)."""
    master = _gunicorn_master()
    if master is None:
        return True
    try:
        started = Path(f"/proc/{master}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return True  # no way to tell one master from a later one with its pid: every worker tells
    folder = Path(tempfile.gettempdir())
    marker = folder / f"pld-wsgi-error-{master}-{started}"
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    except OSError:
        return True
    for old in folder.glob("pld-wsgi-error-*"):  # earlier failed starts' markers
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > 3600:
                old.unlink()
    return True


def _gunicorn_master() -> int | None:
    """The master's pid when a gunicorn worker is loading this module (not with --preload)."""
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if frame.f_code.co_name == "init_process" and module.startswith("gunicorn.workers"):
            worker = frame.f_locals.get("self")
            master = getattr(worker, "ppid", None)
            return master if isinstance(master, int) else None
        frame = frame.f_back
    return None


app = _load()
