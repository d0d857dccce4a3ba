"""pld-plugins: the standard components of pld.

Each module is its own plugin (entry point ``pld_plugins.<module>``), so any one of them can
be disabled with ``PLD_DISABLE_PLUGINS``.
"""
