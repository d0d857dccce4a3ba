"""pld's own features, each a plugin like any other (see ``pld plugins``).

Each module registers through the same hooks a third-party plugin uses and imports only
``pld_core``'s public API (an import-linter contract checks it), so anything pld does, a plugin
can do, replace or switch off: ``PLD_DISABLE_PLUGINS=pld_core.default_plugins.stream``.

- ``training``: the ``fit`` and ``test`` tasks
- ``tasks``: every task as a command (``pld fit``) and as a view a ``url-rule`` mounts (``/fit``,
  run as a background job)
- ``store_admin``: ``pld list``, ``pld admin activate|delete``, ``pld upgrade``, ``pld export``
- ``serving``: ``pld serve`` (alias ``devserver``)
- ``stream``: ``pld stream``
- ``batch``: ``pld predict``
- ``status``: ``/alive`` and ``/list``
- ``endpoints``: the ``url-rule`` component, which mounts views at a config's paths, and the
  views ``update-model-cache`` and ``activate``
- ``openapi``: ``/openapi.json``
- ``page``: the service page at ``/`` (``'service_page': False`` switches it off)
- ``palladium``: the ``partial`` component and the ``pld-fit``... scripts
- ``info``: ``pld version`` and ``pld plugins``
"""
