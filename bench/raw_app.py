"""The baseline: a minimal hand-written Werkzeug app serving the same model, no framework.

It does only what any service must: route, parse the four floats (GET query or POST JSON
list), predict, and answer in Palladium's envelope. pld's app is measured against it.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

FIELDS = ["sepal length", "sepal width", "petal length", "petal width"]
METADATA = {"status": "OK", "error_code": 0, "service_name": "iris", "service_version": "0.1"}

with open(os.environ["RAW_MODEL_PATH"], "rb") as handle:
    MODEL = pickle.load(handle)
URLS = Map([Rule("/predict", endpoint="predict", methods=["GET", "POST"])])


def app(environ, start_response):
    request = Request(environ)
    URLS.bind_to_environ(environ).match()
    if request.method == "GET":
        rows = [[float(request.args[f]) for f in FIELDS]]
    else:
        rows = [[float(record[f]) for f in FIELDS] for record in json.loads(request.get_data())]
    result = MODEL.predict(numpy.array(rows, dtype=float)).tolist()
    body = {"result": result[0] if request.method == "GET" else result, "metadata": METADATA}
    return Response(json.dumps(body), mimetype="application/json")(environ, start_response)
