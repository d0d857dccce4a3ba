# The iris example with pld's short component names and its own habits: `!` for the factory,
# `__copy__` for the test loader, and paths built from `here` so any working directory works.
{
    'service_metadata': {'service_name': 'iris', 'service_version': '0.1'},

    'dataset_loader_train': {
        '!': 'table',
        'path': here + '/iris.data',
        'names': ['sepal length', 'sepal width', 'petal length', 'petal width', 'species'],
        'target_column': 'species',
        'sep': ',',
        'nrows': 100,
    },

    'dataset_loader_test': {
        '__copy__': 'dataset_loader_train',
        'nrows': None,
        'skiprows': 100,
    },

    'model': {'!': 'sklearn.linear_model.LogisticRegression', 'C': 0.3},

    'grid_search': {'param_grid': {'C': [0.1, 0.3, 1.0]}, 'cv': 3},

    'model_persister': {
        '!': 'cached-update',
        'update_cache_rrule': {'freq': 'HOURLY'},
        'impl': {'!': 'database', 'url': 'sqlite:///' + here + '/iris-model.db'},
    },

    'predict_service': {
        '!': 'predict-service',
        'mapping': [
            ('sepal length', 'float'),
            ('sepal width', 'float'),
            ('petal length', 'float'),
            ('petal width', 'float'),
        ],
    },

    'alive': {'process_store_required': ['model_persister']},
}
