# Palladium 1.2's Julia example as its documentation shows it: SVM.jl's svm and predict.
# It needs the Julia package SVM (julia -e 'using Pkg; Pkg.add("SVM")'), which is no longer
# maintained and may not install on current Julia; config.py needs no packages at all.
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
        'fit_func': 'SVM.svm',
        'predict_func': 'SVM.predict',
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
