"""The contracts components fulfil: what a dataset loader, model, persister and predict service are.

Components need not inherit from these classes (any scikit-learn estimator is a model), but
subclassing documents intent and gives sensible defaults.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import Any, final

from pld_core.errors import InputError, PredictError
from pld_core.integrity import (
    StoredModel,
    open_model,
    prepare_model,
    reseal,
    restored_on_failure,
)

__all__ = [
    "CachingModelPersister",
    "CrossValidationGenerator",
    "DatasetLoader",
    "InputError",
    "Model",
    "ModelPersister",
    "ModelStore",
    "PredictError",
    "PredictService",
    "annotate",
]


def annotate(obj: Any, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``metadata`` into ``obj.__metadata__`` and return the result.

    Metadata travels with a model into its persister: version, scores, parameters, etc.
    """
    current = dict(getattr(obj, "__metadata__", None) or {})
    if metadata:
        current.update(metadata)
    obj.__metadata__ = current
    return current


class DatasetLoader(ABC):
    """Loads a dataset for fitting or evaluation."""

    @abstractmethod
    def __call__(self) -> tuple[Any, Any]:
        """Return ``(X, y)``: data with one row per sample, and the target (or ``None``)."""


class CrossValidationGenerator(ABC):
    """Yields ``(train_indices, test_indices)`` pairs, as scikit-learn's CV splitters do."""

    @abstractmethod
    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        """Yield one ``(train, test)`` index pair per fold."""


class Model(ABC):  # noqa: B024 -- a documented base with defaults, nothing abstract to force
    """A model can be fitted to data and then predict; the scikit-learn estimator interface."""

    def fit(self, X: Any, y: Any = None) -> Model:
        """Fit to ``X`` (n samples x m features) and target ``y``; return ``self``."""
        raise NotImplementedError

    def predict(self, X: Any, **kwargs: Any) -> Any:
        """Return one prediction per row of ``X``; may raise :class:`PredictError`."""
        raise NotImplementedError

    def predict_proba(self, X: Any, **kwargs: Any) -> Any:
        """Return an n x classes array of class probabilities."""
        raise NotImplementedError


class ModelPersister(ABC):
    """Stores fitted models as integer versions and remembers which one is active.

    Versions increase and are never reused, not even after a delete. ``write`` stores a new
    inactive version; ``activate`` makes it the one served.
    """

    @abstractmethod
    def read(self, version: int | None = None) -> Any:
        """Return the model with ``version``, or the active one when ``version`` is ``None``.

        :raises LookupError: no such version, or no active model.
        """

    @abstractmethod
    def write(self, model: Any) -> int:
        """Store ``model`` as a new, inactive version and return its version number.

        The persister annotates ``version`` onto the model's metadata before storing it.
        """

    @abstractmethod
    def activate(self, version: int) -> None:
        """Make ``version`` the active model.

        :raises LookupError: no such version.
        """

    @abstractmethod
    def delete(self, version: int) -> None:
        """Remove ``version`` and everything stored for it.

        :raises LookupError: no such version.
        """

    @abstractmethod
    def list_models(self) -> list[dict[str, Any]]:
        """Return the metadata of every stored model, oldest first; each has ``version``."""

    @abstractmethod
    def list_properties(self) -> dict[str, str]:
        """Return the store's own properties, such as ``active-model`` and ``db-version``."""

    def upgrade(self, from_version: str | None = None, to_version: str | None = None) -> None:  # noqa: B027
        """Migrate the store's schema; stores with a single schema have nothing to do."""

    def verified_by_pld(self) -> bool:
        """Whether pld checks this persister's models before they are unpickled.

        True for a :class:`ModelStore`; a wrapper answers for the persister it wraps. With
        ``PLD_MODEL_SIGNING_KEY`` set, pld refuses to read or write through one that is not.
        """
        return False


class ModelStore(ModelPersister):
    """A persister that stores bytes; pld pickles, digests, signs and checks them.

    Implement :meth:`write_bytes` and :meth:`read_bytes` (plus ``activate``, ``delete``,
    ``list_models``, ``list_properties``); :meth:`read` and :meth:`write` are pld's. The
    bytes a store gets are a gzip pickle; the metadata beside them carries a ``digest`` and,
    with ``PLD_MODEL_SIGNING_KEY`` set, a ``signature`` over the bytes, the version and
    :meth:`store_identity`. Reading checks them before anything is unpickled, so a store
    needs no code for integrity or signing and cannot get it wrong.
    """

    @abstractmethod
    def write_bytes(self, prepare: Callable[[int], StoredModel]) -> int:
        """Store a new version and return its number.

        Choose the next version (under the store's lock or in its transaction), call
        ``prepare(version)`` for the :class:`StoredModel` to keep under it, and store its
        ``data`` and ``metadata`` together. ``prepare`` may be called again on a retry.
        """

    @abstractmethod
    def read_bytes(self, version: int | None) -> StoredModel:
        """The stored bytes and metadata of ``version``, or of the active one for ``None``.

        Hand the metadata back exactly as ``prepare`` gave it: its ``metadata_signature`` then
        holds, and ``pld predict`` may serve a signed version before unpickling it.

        :raises LookupError: no such version, or no active model.
        """

    def store_identity(self) -> str:
        """A name of this store that every process opening it agrees on; signatures cover it.

        The default is the class name. Override it with what tells two stores of your kind
        apart but not two ways of reaching one store (a file name, not a host name), so a
        model copied from one store into another is refused.
        """
        return type(self).__name__

    @final
    def read(self, version: int | None = None) -> Any:
        """The model of ``version`` (``None``: the active one), checked before unpickling.

        :raises LookupError: no such version, or no active model.
        :raises ModelIntegrityError: the bytes fail their digest or signature check.
        """
        stored = self.read_bytes(version)
        return open_model(stored, self.store_identity(), version, repr(self))

    @final
    def write(self, model: Any) -> int:
        """Pickle, digest and sign ``model``; store it as a new, inactive version."""
        prepare = prepare_model(model, self.store_identity())
        with restored_on_failure(model):
            return int(self.write_bytes(prepare))

    @final
    def sign(self, version: int) -> int:
        """Store ``version``'s bytes again, signed with the current key, as a new version.

        Nothing is unpickled: the caller vouches for the model (``pld admin sign``). The new
        version is inactive; its metadata names the original as ``signed_from``.

        :raises ConfigError: no signing key is set.
        :raises ModelIntegrityError: the bytes do not match their recorded digest.
        """
        return int(self.write_bytes(reseal(self.read_bytes(version), self.store_identity())))

    def verified_by_pld(self) -> bool:
        return True


class CachingModelPersister(ModelPersister):
    """A persister that keeps the active model in memory itself, such as ``cached-update``.

    The predict path then asks it for the model on every request instead of keeping its own
    copy, and ``/update-model-cache`` calls :meth:`update_cache`.
    """

    @abstractmethod
    def cached_model(self) -> Any:
        """The model in memory, or ``None`` while none is loaded. Called on every request."""

    @abstractmethod
    def update_cache(self, version: int | None = None) -> Any:
        """Load the active model (or ``version``) into memory; the old one serves meanwhile."""

    def load_error(self) -> str | None:
        """Why the last load failed (``None`` after a good one): the 503 answer's reason."""
        return None


class PredictService(ABC):
    """Turns request records into the model's input: the part of a prediction that varies.

    The rest is pld's one predict path, the same for HTTP GET and POST, ``pld stream`` and
    ``pld predict``: find the model, :meth:`model_input` (which refuses bad records with
    :class:`InputError`), the ``pld_predict`` hook with :attr:`method`, :meth:`result`, and
    the answer in Palladium's envelope. The server routes ``entry_point`` (GET and POST) to it,
    wrapped in the config's decorator list named ``decorator_list_name``.
    """

    entry_point: str = "/predict"
    decorator_list_name: str = "predict_decorators"
    #: The model method the ``pld_predict`` hook calls: ``predict`` or ``predict_proba``.
    method: str = "predict"

    @abstractmethod
    def model_input(
        self, model: Any, records: list[Any], query: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """``(X, params)`` for the model: one row of ``X`` per record, ``params`` for ``method``.

        ``query`` holds request-wide parameters (the query string over HTTP, empty elsewhere).

        :raises InputError: a record or parameter is wrong; the message names it.
        """

    def table_input(
        self, model: Any, table: Any, query: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]] | None:
        """``(X, params)`` from a columnar batch of samples (a pyarrow record batch), or ``None``.

        ``pld predict`` reads files in columns; building ``X`` from whole columns skips making
        one object per row. ``None`` (the default) sends the batch the records way
        (:meth:`model_input` with ``table.to_pylist()``), which is also where a batch with a
        bad value belongs: its messages name the sample and the field.
        """
        return None

    def check_model(self, model: Any) -> str | None:
        """What keeps this service from feeding ``model`` correctly, or ``None``.

        Asked once per model (a reload brings a new one); an answer refuses predictions with it.
        """
        return None

    def result(self, predictions: list[Any], single: bool) -> Any:
        """The answer's ``result``: the one prediction of a GET, else the list."""
        return predictions[0] if single else predictions

    def openapi_operations(self) -> dict[str, Any] | None:
        """OpenAPI operations (``{"get": ..., "post": ...}``) for ``entry_point``, if known.

        ``/openapi.json`` shows them; ``None`` lists the endpoint without its fields.
        """
        return None
