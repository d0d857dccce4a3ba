# An overlay for config-iris.py: the data comes from Python (iris.data through pandas), the
# model is still the R randomForest. Use it as
#   PALLADIUM_CONFIG=config-iris.py,config-iris-dataset-from-python.py
{
    'dataset_loader_train': {
        '__factory__': 'palladium.dataset.Table',
        'path': 'iris.data',
        'names': [
            'sepal length',
            'sepal width',
            'petal length',
            'petal width',
            'species',
        ],
        'target_column': 'species',
        'sep': ',',
        'nrows': 100,
    },

    'dataset_loader_test': {
        '__copy__': 'dataset_loader_train',
        'skiprows': 100,
        'nrows': None,
    },
}
