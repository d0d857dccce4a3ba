"""Hook implementations of pld-r, loaded through the ``pld_r`` entry point (group ``pld``).

Nothing is registered yet: the R components (Palladium's ``palladium.R.ClassificationModel``,
``palladium.R.DatasetLoader`` and friends) arrive in their own issue. The module must stay cheap
to import: ``rpy2`` is imported inside the components, never here.
"""
