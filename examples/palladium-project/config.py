# A Palladium 1.2 project, unchanged: run it with pld and pld-palladium installed.
{
    'service_metadata': {
        'service_name': 'iris',
        'service_version': '0.1',
    },

    'dataset_loader_train': {
        '__factory__': 'iris_loader.IrisLoader',
        'path': here + '/iris.data',
        'stop': 100,
    },

    'dataset_loader_test': {
        '__factory__': 'iris_loader.IrisLoader',
        'path': here + '/iris.data',
        'start': 100,
    },

    'model': {
        '__factory__': 'sklearn.linear_model.LogisticRegression',
        'C': 0.3,
    },

    'model_persister': {
        '__factory__': 'palladium.persistence.File',
        'path': 'iris-model-{version}',
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

    'alive': {
        'process_store_required': ['model_persister'],
    },

    'fit_decorators': ['report.attach_report'],
    'predict_decorators': ['mybasicauth.requires_auth'],
    'alive_decorators': ['mybasicauth.requires_auth'],
}
