"""A custom dataset loader, as Palladium users write them: a DatasetLoader subclass."""

import pandas

from palladium.interfaces import DatasetLoader

FEATURES = ["sepal length", "sepal width", "petal length", "petal width"]


class IrisLoader(DatasetLoader):
    """Rows ``start:stop`` of the iris CSV file at ``path``."""

    def __init__(self, path, start=0, stop=None):
        self.path = path
        self.start = start
        self.stop = stop

    def __call__(self):
        frame = pandas.read_csv(self.path, names=[*FEATURES, "species"])
        frame = frame.iloc[self.start : self.stop]
        return frame[FEATURES].to_numpy(), frame["species"].to_numpy()
