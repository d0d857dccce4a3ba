"""Compiled inference (issue 18): a version written with ``compiled_inference`` carries an ONNX
form only when it answers as the model does; the service predicts with it, says so in
``/alive`` and ``pld list``, and the store's digest and signature cover its bytes."""

from __future__ import annotations

import base64
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
from werkzeug.test import Client

pytest.importorskip("skl2onnx", reason="needs skl2onnx (pip install 'pld-plugins[onnx]')")
pytest.importorskip("onnxruntime", reason="needs onnxruntime (pip install 'pld-plugins[onnx]')")
onnx = pytest.importorskip("onnx", reason="needs onnx (pip install 'pld-plugins[onnx]')")

from pld_core import (  # noqa: E402
    ConfigError,
    DeferredModel,
    ModelIntegrityError,
    ModelSource,
    create_app,
    deferred_unpickling,
    fit,
    load_config,
    make_predict_path,
)
from pld_plugins.compiled import ATTACHMENT  # noqa: E402
from pld_plugins.compiled.onnx import OnnxModel  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # compiled_models, also for `pld` processes
from compiled_models import register_tweaked_converter  # noqa: E402

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris" / "iris.data"
FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
ROWS = numpy.loadtxt(IRIS, delimiter=",", usecols=range(4))
LOADER = """{'!': 'table', 'path': %r, 'sep': ',', %s,
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species'}"""
PERSISTERS = {
    "file": "{'!': 'file', 'path': here + '/model-{version}'}",
    "database": "{'!': 'database', 'url': 'sqlite:///' + here + '/models.db'}",
    "cached-update": "{'!': 'cached-update', "
    "'impl': {'!': 'database', 'url': 'sqlite:///' + here + '/models.db'}}",
}
LOGISTIC = "{'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3}"
MAPPING = [(name, "float") for name in FIELDS]


def write_config(
    folder: Path,
    persister: str = "database",
    model: str = LOGISTIC,
    compiled: str = "{'enabled': True}",
    test_set: bool = True,
    name: str = "config.py",
    extra: str = "",
) -> Path:
    """An iris config: train on rows 0-99 (two species), test on rows 100-149."""
    entries = [
        f"'dataset_loader_train': {LOADER % (str(IRIS), chr(39) + 'nrows' + chr(39) + ': 100')}",
        f"'model': {model}",
        f"'model_persister': {PERSISTERS[persister]}",
        f"'predict_service': {{'!': 'predict-service', 'mapping': {MAPPING!r}}}",
        f"'proba_service': {{'!': 'predict-service', 'mapping': {MAPPING!r}, "
        "'entry_point': '/proba', 'predict_proba': True}",
        f"'compiled_inference': {compiled}",
        "'sklearn_direct': False",  # without the compiled form, the estimator itself serves
    ]
    if test_set:
        skip = chr(39) + "skiprows" + chr(39) + ": 100"
        entries.append(f"'dataset_loader_test': {LOADER % (str(IRIS), skip)}")
    path = folder / name
    path.write_text("{\n    " + ",\n    ".join(entries + ([extra] if extra else [])) + ",\n}\n")
    return path


def fitted(path: Path) -> int:
    """Fit and store a version with the config at ``path``; its version number."""
    return fit(load_config(str(path), __mode__="fit")).version


def stored_model(path: Path, version: int | None = None):
    """The version as the store holds it (read without serving: the Python model)."""
    return load_config(str(path), __mode__="fit")["model_persister"].read(version)


def serve(path: Path) -> tuple[Client, object]:
    app = create_app(load_config(str(path)))
    return Client(app), app


def query(row) -> dict[str, float]:
    return dict(zip(FIELDS, map(float, row), strict=True))


def pld(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("pld", path=str(Path(sys.executable).parent)) or "pld"
    env = {"PYTHONPATH": str(Path(__file__).parent), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run(
        [script, "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=config.parent,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("persister", sorted(PERSISTERS))
def test_a_verified_onnx_form_is_stored_and_serves(tmp_path, persister, monkeypatch):
    config = write_config(tmp_path, persister)
    assert fitted(config) == 1
    model = stored_model(config)
    compiled = model.__metadata__["compiled"]
    assert compiled["verified"] is True and compiled["runtime"] == "onnx"
    assert compiled["rows"] == 50 and compiled["rows_from"] == "dataset_loader_test"
    assert 0 <= compiled["max_rel_diff"] <= 1e-6
    assert model.__metadata__["served_by"] == "onnx"
    onnx_model = onnx.load_from_string(base64.b64decode(model.__metadata__[ATTACHMENT]))
    input_type = onnx_model.graph.input[0].type.tensor_type.elem_type
    assert input_type == onnx.TensorProto.DOUBLE  # double precision, not float32

    client, app = serve(config)
    served = app.models.get()
    assert isinstance(served, OnnxModel) and app.models.served_by() == "onnx"
    assert client.get("/alive").json["served_by"] == "onnx"
    expected = model.predict(ROWS).tolist()
    gets = [client.get("/predict", query_string=query(row)) for row in ROWS[::5]]
    assert [answer.json["result"] for answer in gets] == expected[::5]
    posted = client.post("/predict", json=[query(row) for row in ROWS])
    assert posted.status_code == 200 and posted.json["result"] == expected
    probabilities = client.post("/proba", json=[query(row) for row in ROWS]).json["result"]
    numpy.testing.assert_allclose(probabilities, model.predict_proba(ROWS), rtol=1e-6, atol=0)

    def not_python(*args, **kwargs):
        raise AssertionError("the Python model was asked")

    monkeypatch.setattr(served.model, "predict", not_python)  # onnxruntime answers alone
    monkeypatch.setattr(served.model, "predict_proba", not_python)
    again = client.get("/predict", query_string=query(ROWS[120]))
    assert again.status_code == 200 and again.json["result"] == expected[120]
    assert client.get("/proba", query_string=query(ROWS[3])).status_code == 200


@pytest.mark.slow
def test_pld_list_and_pld_predict_use_the_onnx_form(tmp_path):
    config = write_config(tmp_path, "database")
    fitted(config)
    listed = pld(config, "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()[:2]
    assert header.split()[-1] == "served_by" and row.split()[-1] == "onnx"
    (tmp_path / "samples.csv").write_text(
        ",".join(FIELDS) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in ROWS)
    )
    predicted = pld(
        config, "predict", "-i", "samples.csv", "--predictions-only", "--output-format", "jsonl"
    )
    assert predicted.returncode == 0, predicted.stderr
    assert "model version 1: serving its verified ONNX form" in predicted.stderr
    labels = [json.loads(line)["prediction"] for line in predicted.stdout.splitlines()]
    assert labels == stored_model(config).predict(ROWS).tolist()


def _imported(stderr: str) -> set[str]:
    """The modules a ``python -X importtime`` process imported."""
    lines = (line for line in stderr.splitlines() if line.startswith("import time:"))
    return {line.rsplit("|", 1)[1].strip() for line in lines}


@pytest.mark.slow
def test_pld_predict_never_unpickles_a_compiled_version_nor_imports_scikit_learn(tmp_path):
    import pyarrow
    import pyarrow.csv
    import pyarrow.parquet

    compiled = write_config(tmp_path, "cached-update")  # the iris example's store
    python = write_config(tmp_path, "cached-update", compiled="{'serve': False}", name="py.py")
    fitted(compiled)
    expected = stored_model(compiled).predict(ROWS).tolist()
    table = pyarrow.table({name: ROWS[:, i] for i, name in enumerate(FIELDS)})
    pyarrow.parquet.write_table(table, tmp_path / "samples.parquet")
    script = shutil.which("pld", path=str(Path(sys.executable).parent)) or "pld"
    for config, served_without in ((compiled, True), (python, False)):
        for suffix in ("parquet", "csv"):
            target = tmp_path / f"{config.stem}.{suffix}"
            done = subprocess.run(
                [sys.executable, "-X", "importtime", script, "--config", str(config)]
                + ["predict", "-i", "samples.parquet", "-o", str(target)],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            heavy = {"sklearn", "scipy", "pandas"} & _imported(done.stderr)
            assert (not heavy) is served_without, heavy  # the Python model imports them all
            read = pyarrow.parquet.read_table if suffix == "parquet" else pyarrow.csv.read_csv
            assert read(target).column("prediction").to_pylist() == expected


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_batch_source_serves_the_onnx_form_before_the_model_is_unpickled(
    tmp_path, monkeypatch, signed
):
    import pyarrow

    if signed:  # the metadata signature vouches for the record and the ONNX form
        monkeypatch.setenv("PLD_MODEL_SIGNING_KEY", "s3cret")
    path = write_config(tmp_path, "cached-update")
    fitted(path)
    python = stored_model(path)
    with deferred_unpickling():
        config = load_config(str(path))
        source = ModelSource(config)
    served = source.get()
    assert isinstance(served, OnnxModel) and isinstance(served.model, DeferredModel)
    assert source.served_by() == "onnx" and served.__metadata__["version"] == 1
    assert served.classes_.tolist() == python.classes_.tolist()  # from the record
    assert served.classes_.dtype == python.classes_.dtype
    predict = make_predict_path(config, "predict_service", source)
    table = pyarrow.table({name: ROWS[:, i] for i, name in enumerate(FIELDS)})
    assert predict.table_predictions(table).tolist() == python.predict(ROWS).tolist()
    proba = make_predict_path(config, "proba_service", source)
    numpy.testing.assert_allclose(
        proba.table_predictions(table), python.predict_proba(ROWS), rtol=1e-6
    )
    assert not served.model.is_loaded  # onnxruntime answered everything alone
    # NaN passes pld's input check (the model decides): the ONNX form was not verified for
    # it, so the Python model is unpickled now and answers with its own message
    with pytest.raises(ValueError, match="Input X contains NaN"):
        served.predict(numpy.array([[1.0, numpy.nan, 1.0, 1.0]]))
    assert served.model.is_loaded


def test_a_record_from_before_it_described_the_model_waits_for_the_python_model(tmp_path):
    from pld_plugins.compiled import pld_serve_stored

    path = write_config(tmp_path, "file")
    fitted(path)
    config = load_config(str(path), __mode__="fit")
    with deferred_unpickling():
        model = config["model_persister"].read()
    assert isinstance(pld_serve_stored(model=model, config=config), OnnxModel)
    record = model.__metadata__["compiled"]
    assert record["columns"] is None and record["classes"] == stored_model(path).classes_.tolist()
    older = {k: v for k, v in record.items() if k not in ("columns", "classes")}
    model.__metadata__ = {**model.__metadata__, "compiled": older}
    assert pld_serve_stored(model=model, config=config) is None  # pld unpickles it, then serves
    assert not model.is_loaded


def test_a_model_skl2onnx_cannot_convert_records_why_and_python_serves(tmp_path):
    config = write_config(tmp_path, "file", model="{'!': 'compiled_models.Unconvertible'}")
    fitted(config)
    model = stored_model(config)
    compiled = model.__metadata__["compiled"]
    assert compiled["verified"] is False
    assert compiled["reason"].startswith("skl2onnx cannot convert it: MissingShapeCalculator")
    assert model.__metadata__["served_by"] == "python"
    assert ATTACHMENT not in model.__metadata__
    assert not list(tmp_path.glob("*model.onnx"))  # nothing stored beside the pickle
    client, app = serve(config)
    assert app.models.get() is app.models.current()
    assert client.get("/alive").json["served_by"] == "python"
    answer = client.get("/predict", query_string=query(ROWS[60]))
    assert answer.json["result"] == model.predict(ROWS[60:61])[0]


def test_an_onnx_form_that_answers_otherwise_is_not_stored(tmp_path):
    register_tweaked_converter()
    config = write_config(tmp_path, "database", model="{'!': 'compiled_models.Tweaked'}")
    fitted(config)
    compiled = stored_model(config).__metadata__["compiled"]
    assert compiled["verified"] is False
    assert compiled["reason"].startswith("predict_proba differs from the Python model's by up to")
    assert compiled["reason"].endswith("relative (rtol 1e-06)")
    assert serve(config)[1].models.served_by() == "python"
    # the same model, with a tolerance its 1e-4 shift keeps within: verified
    loose = write_config(
        tmp_path, "database", "{'!': 'compiled_models.Tweaked'}",
        "{'enabled': True, 'rtol': 0.01}", name="loose.py",
    )  # fmt: skip
    fitted(loose)
    assert stored_model(loose).__metadata__["compiled"]["verified"] is True
    assert serve(loose)[1].models.served_by() == "onnx"


def test_without_a_test_set_training_rows_are_compared(tmp_path):
    config = write_config(tmp_path, compiled="{'enabled': True, 'rows': 30}", test_set=False)
    fitted(config)
    compiled = stored_model(config).__metadata__["compiled"]
    assert compiled["verified"] is True
    assert compiled["rows_from"] == "dataset_loader_train" and compiled["rows"] == 30


def test_off_by_default_and_serve_false_serves_python(tmp_path):
    plain = write_config(tmp_path, compiled="{}", name="plain.py")
    fitted(plain)
    metadata = stored_model(plain).__metadata__
    assert "compiled" not in metadata and ATTACHMENT not in metadata
    assert serve(plain)[0].get("/alive").json["served_by"] == "python"
    compiled = write_config(tmp_path, name="compiled.py")
    fitted(compiled)  # version 2, with its ONNX form
    unserved = write_config(tmp_path, compiled="{'serve': False}", name="unserved.py")
    assert serve(unserved)[0].get("/alive").json["served_by"] == "python"
    assert serve(compiled)[0].get("/alive").json["served_by"] == "onnx"


def test_an_exchanged_onnx_form_is_refused_before_anything_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("PLD_MODEL_SIGNING_KEY", "s3cret")
    config = write_config(tmp_path, "file")
    other = write_config(
        tmp_path, "file", "{'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.05}",
        name="other.py",
    )  # fmt: skip
    fitted(config)
    fitted(other)
    first, second = tmp_path / "model-1-model.onnx", tmp_path / "model-2-model.onnx"
    assert first.read_bytes() != second.read_bytes()
    first.write_bytes(second.read_bytes())  # a valid ONNX form, of another version
    with pytest.raises(ModelIntegrityError, match="attachment 'attachments/model.onnx'"):
        stored_model(config, 1)
    load_config(str(config), __mode__="fit")["model_persister"].activate(1)
    client, _ = serve(config)
    answer = client.get("/predict", query_string=query(ROWS[0]))
    assert answer.status_code == 503
    assert "does not match the digest recorded" in answer.json["metadata"]["error_message"]
    assert "attachments/model.onnx" in client.get("/alive").json["model_error"]


def test_cached_update_decides_per_version(tmp_path):
    config = write_config(tmp_path, "cached-update")
    fitted(config)
    client, app = serve(config)
    assert client.get("/alive").json["served_by"] == "onnx"
    python = write_config(
        tmp_path, "cached-update", "{'!': 'compiled_models.Unconvertible'}", name="python.py"
    )
    fitted(python)  # version 2, activated: no ONNX form
    app.models.persister.update_cache()
    assert client.get("/alive").json["served_by"] == "python"
    answer = client.get("/predict", query_string=query(ROWS[70]))
    assert answer.json["result"] == stored_model(python).predict(ROWS[70:71])[0]


def test_inputs_the_onnx_form_was_not_verified_for_get_the_python_answer(tmp_path):
    checks_off = "'input_checks': {'enabled': False}"
    compiled = write_config(tmp_path, name="compiled.py", extra=checks_off)
    fitted(compiled)
    python = write_config(
        tmp_path, compiled="{'serve': False}", name="python-served.py", extra=checks_off
    )
    nan = {**query(ROWS[0]), "sepal width": "nan"}
    answers = [serve(path)[0].get("/predict", query_string=nan) for path in (compiled, python)]
    assert answers[0].status_code == answers[1].status_code >= 400
    assert answers[0].json == answers[1].json  # scikit-learn's own message, not a NaN label
    served = serve(compiled)[1].models.get()
    rows = ROWS[95:105].tolist()  # lists, not an array: converted for onnxruntime
    assert served.predict(rows).tolist() == served.model.predict(rows).tolist()
    with pytest.raises(ValueError, match="Input X contains NaN"):  # the model's own error
        served.predict([[1.0, float("nan"), 1.0, 1.0]])


def test_a_missing_onnxruntime_at_serve_time_serves_python(tmp_path, monkeypatch, caplog):
    config = write_config(tmp_path)
    fitted(config)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with caplog.at_level(logging.WARNING, logger="pld_plugins.compiled"):
        client, _ = serve(config)
    assert client.get("/alive").json["served_by"] == "python"
    assert "onnxruntime is not installed" in caplog.text


def test_a_missing_skl2onnx_at_write_time_is_recorded(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    fitted(config)
    compiled = stored_model(config).__metadata__["compiled"]
    assert compiled["verified"] is False
    assert compiled["reason"] == "skl2onnx is not installed (pip install 'pld-plugins[onnx]')"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{'enabled': 'yes'}", "compiled_inference.enabled: must be True or False"),
        ("{'enabled': True, 'runtime': 'tvm'}", "compiled_inference.runtime: must be one of onnx"),
        ("{'enabled': True, 'rtol': -1}", "compiled_inference.rtol: must be a number"),
        ("{'enabled': True, 'rows': 0}", "compiled_inference.rows: must be a whole number"),
        ("{'enabled': True, 'fast': True}", "compiled_inference: must be a dict with some of"),
    ],
)
def test_a_bad_setting_is_a_configuration_error(tmp_path, setting, message):
    config = write_config(tmp_path, compiled=setting)
    with pytest.raises(ConfigError, match=message):
        fitted(config)


def test_pld_fit_says_a_bad_setting_in_one_line(tmp_path):
    config = write_config(tmp_path, compiled="{'enabled': 1}")
    result = pld(config, "fit")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "compiled_inference.enabled: must be True or False" in errors[0]
    assert "Traceback" not in result.stderr


def _estimator(kind: str):
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "3-class": lambda: LogisticRegression(max_iter=500),
        "pipeline": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
        "regression": LinearRegression,
        "ridge": lambda: Ridge(alpha=0.5),
    }[kind]()


@pytest.mark.parametrize("kind", ["3-class", "pipeline", "regression", "ridge"])
def test_classifiers_pipelines_and_regressors_are_verified_and_answer_alike(kind):
    from sklearn.base import is_classifier

    from pld_plugins.compiled.onnx import compile_model
    from pld_plugins.compiled.settings import Settings

    model, X = _estimator(kind), ROWS
    species = numpy.loadtxt(IRIS, delimiter=",", usecols=[4], dtype=object)
    if is_classifier(model):
        model.fit(X, species)  # all three species
    else:
        model.fit(X[:, :3], X[:, 3])  # petal width from the other three
        X = X[:, :3].copy()
    record, data = compile_model(model, X, X, Settings())
    assert record["verified"] is True and record["max_rel_diff"] <= 1e-6
    classes = model.classes_.tolist() if is_classifier(model) else None
    assert record["classes"] == classes and record["columns"] is None  # fitted on an array
    served = OnnxModel.load(model, data, record["outputs"], 1, record)
    if classes is not None:
        assert served.classes_.tolist() == classes
    predicted = served.predict(X)
    assert predicted.shape == model.predict(X).shape and predicted.dtype == model.predict(X).dtype
    if is_classifier(model):
        assert predicted.tolist() == model.predict(X).tolist()
        assert set(predicted.tolist()) == set(species.tolist())  # the class labels, as strings
        numpy.testing.assert_allclose(served.predict_proba(X), model.predict_proba(X), rtol=1e-6)
    else:
        numpy.testing.assert_allclose(predicted, model.predict(X), rtol=1e-6)
        with pytest.raises(AttributeError):  # a regressor has no predict_proba; nor its form
            served.predict_proba(X)


def test_pld_export_carries_the_onnx_form_and_checks_it_again(tmp_path):
    from pld_core.default_plugins.store_admin import export

    export_to = "'model_persister_export': {'!': 'file', 'path': here + '/exported-{version}'}"
    config = write_config(tmp_path, "database", extra=export_to)
    fitted(config)
    source, target = export(load_config(str(config), __mode__="fit"))
    assert (source, target) == (1, 1)
    assert (tmp_path / "exported-1-model.onnx").exists()  # converted and verified again
    serving = write_config(tmp_path, "file", name="exported.py")  # the exported store
    serving.write_text(serving.read_text().replace("/model-{version}", "/exported-{version}"))
    assert stored_model(serving).__metadata__["compiled"]["verified"] is True
    client, app = serve(serving)
    assert app.models.served_by() == "onnx"
    answer = client.get("/predict", query_string=query(ROWS[130]))
    assert answer.json["result"] == stored_model(config).predict(ROWS[130:131])[0]
