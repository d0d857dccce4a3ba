# Palladium 1.2's Julia example (legacy names, the same loaders and converters), except that the
# model is the nearest-centroid classifier in nearest_centroid.jl instead of SVM.jl's svm, so it
# runs on a plain Julia with no packages to download. config-svm.py is the original.
{
    'service_metadata': {
        'service_name': 'iris',
        'service_version': '0.1',
    },

    'dataset_loader_train': {
        '__factory__': 'palladium.dataset.CSV',
        'path': 'iris.data',
        'names': [
            'sepal length',
            'sepal width',
            'petal length',
            'petal width',
            'species',
        ],
        'target_column': 'species',
        'nrows': 100,
        'converters': {'species': lambda x: 1 if x == 'Iris-setosa' else -1},
    },

    'dataset_loader_test': {
        '__factory__': 'palladium.dataset.CSV',
        'path': 'iris.data',
        'names': [
            'sepal length',
            'sepal width',
            'petal length',
            'petal width',
            'species',
        ],
        'target_column': 'species',
        'skiprows': 100,
        'converters': {'species': lambda x: 1 if x == 'Iris-setosa' else -1},
    },

    'model': {
        '__factory__': 'palladium.julia.ClassificationModel',
        'fit_func': 'NearestCentroid.fit',
        'predict_func': 'NearestCentroid.predict',
        'julia_file': 'nearest_centroid.jl',
    },

    'model_persister': {
        '__factory__': 'palladium.persistence.Database',
        'url': 'sqlite:///iris-model.db',
    },

    'predict_service': {
        '__factory__': 'palladium.server.PredictService',
        'mapping': [
            ('sepal length', 'float'),
            ('sepal width', 'float'),
            ('petal length', 'float'),
            ('petal width', 'float'),
        ],
    },
}
