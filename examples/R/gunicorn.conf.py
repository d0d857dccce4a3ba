"""gunicorn settings for serving the R example: examples/deploy's, plus pld-r's hook.

    PLD_CONFIG=config-iris.py gunicorn -c gunicorn.conf.py pld_core.wsgi:app

In your own gunicorn config, the hook is one line: ``from pld_r.gunicorn import post_request``.
"""

import runpy
from pathlib import Path

# examples/deploy/gunicorn.conf.py's settings and hooks. Its preload_app makes the master
# start R and load the R model (which predicts one typical row as it loads) before it forks
# the workers: no request waits for R.
_DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
globals().update(
    {name: value for name, value in runpy.run_path(str(_DEPLOY)).items() if name[:2] != "__"}
)

# After each response: R's garbage collection, when one is due, between requests instead of
# inside one (a randomForest predict allocates ~1 MB, so R collects every few dozen calls).
from pld_r.gunicorn import post_request  # noqa: E402, F401
