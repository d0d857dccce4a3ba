"""Hook implementations of pld-julia, loaded through the ``pld_julia`` entry point (group ``pld``).

Nothing is registered yet: the Julia components (Palladium's ``palladium.julia.ClassificationModel``
and friends) arrive in their own issue. The module must stay cheap to import: ``juliacall`` is
imported inside the components, never here.
"""
