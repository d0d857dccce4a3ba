"""``S3``: the ``FileLike`` layout in an S3 bucket (Palladium's ``palladium.persistence.S3``).

Any S3-compatible server works (AWS, MinIO, Ceph, ...): pass its address as
``endpoint_url``. Credentials come from the usual places (environment, ``~/.aws``, instance
roles) unless given as ``key``/``secret``. Processes writing to one store at once are safe on a
server that honours conditional PUTs (AWS since 2024, MinIO): see ``fsspec_files``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pld_plugins.persistence.filelike import FileLike
from pld_plugins.persistence.fsspec_files import S3Files

__all__ = ["S3"]


class S3(FileLike):
    """Models at ``path.format(version=N) + '.pkl.gz'`` in a bucket.

    :param path: ``s3://bucket/folder/model-{version}`` (the ``s3://`` may be left out, as
        Palladium's examples do).
    :param endpoint_url: the S3 server's address, for servers other than AWS.
    :param storage_options: further ``s3fs.S3FileSystem`` arguments (``key``, ``secret``,
        ``anon``, ``client_kwargs``, ...).
    """

    def __init__(self, path: str, endpoint_url: str | None = None, **storage_options: Any):
        if not path.startswith(("s3://", "s3a://")):
            path = "s3://" + path.lstrip("/")
        options = dict(storage_options)
        if endpoint_url is not None:
            options["endpoint_url"] = endpoint_url
        super().__init__(path, S3Files(path.partition("://")[0], options))

    def store_identity(self) -> str:
        """``s3:<bucket>/<key pattern>``: the same whichever endpoint reaches the bucket."""
        parts = urlsplit(self.path)
        return f"s3:{parts.netloc}{parts.path}"
