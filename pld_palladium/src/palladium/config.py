"""``palladium.config``: the process-wide configuration (``get_config``, ``initialize_config``)."""

from __future__ import annotations

from pld_core import get_config, initialize_config

__all__ = ["PALLADIUM_CONFIG_ERROR", "get_config", "initialize_config"]

#: Palladium's hint, appended to errors about missing configuration.
PALLADIUM_CONFIG_ERROR = (
    "Maybe you forgot to set the environment variable PALLADIUM_CONFIG to point to your "
    "Palladium configuration file? If so, please refer to the manual for more details."
)
