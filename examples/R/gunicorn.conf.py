"""gunicorn settings for serving the R example: pld's production settings plus pld-r's hook.

    PLD_CONFIG=config-iris.py gunicorn -c gunicorn.conf.py pld_core.wsgi:app

gunicorn also reads this file by itself when started in this folder, and so does an image
``pld dockerize`` builds of it. In your own gunicorn config the hook is one line:
``from pld_r.gunicorn import post_request``.
"""

from pld_plugins.deploy import gunicorn_conf as _production

# The settings of examples/deploy/gunicorn.conf.py (commented there) and of the images `pld
# dockerize` writes: a worker process per CPU, threads, and preload_app, with which the
# master starts R and loads the R model (predicting one typical row as it loads) before it
# forks the workers, so that no request waits for R. gunicorn ignores the names that are not
# settings.
globals().update({k: v for k, v in vars(_production).items() if not k.startswith("_")})

# After each response: R's garbage collection, when one is due, between requests instead of
# inside one (a randomForest predict allocates ~1 MB, so R collects every few dozen calls).
from pld_r.gunicorn import post_request  # noqa: E402, F401
