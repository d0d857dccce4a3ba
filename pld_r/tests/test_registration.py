"""pld-r registers its components under short and Palladium names, signatures in step."""

from __future__ import annotations

import inspect

import pytest

import pld_r.hooks
from pld_core.testing import component_factory
from pld_r.dataset import DatasetLoader
from pld_r.models import ClassificationModel, RegressionModel
from pld_r.transform import Rpy2Transform

NAMES = [
    ("r-dataset", "palladium.R.DatasetLoader"),
    ("r-classifier", "palladium.R.ClassificationModel"),
    ("r-regressor", "palladium.R.RegressionModel"),
    ("r-transform", "palladium.R.Rpy2Transform"),
]


@pytest.mark.parametrize(("name", "alias"), NAMES)
def test_short_and_palladium_names(pm, register_plugin, name, alias):
    register_plugin(pld_r.hooks)
    assert component_factory(pm, name) is component_factory(pm, alias)


@pytest.mark.parametrize(
    ("factory", "cls"),
    [
        (pld_r.hooks.r_classifier, ClassificationModel),
        (pld_r.hooks.r_regressor, RegressionModel),
        (pld_r.hooks.r_transform, Rpy2Transform),
    ],
)
def test_factories_mirror_the_classes(factory, cls):
    factory_params = inspect.signature(factory).parameters
    class_params = inspect.signature(cls).parameters
    assert [(p.name, p.default) for p in factory_params.values()] == [
        (p.name, p.default) for p in class_params.values()
    ]
    assert component_factory is not None


def test_the_loader_is_registered_as_a_class(pm, register_plugin):
    register_plugin(pld_r.hooks)
    assert component_factory(pm, "r-dataset") is DatasetLoader
