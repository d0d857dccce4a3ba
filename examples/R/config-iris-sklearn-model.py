# An overlay for config-iris.py: the data comes from R (iris.R's dataset()), the model is a
# scikit-learn one. Use it as
#   PALLADIUM_CONFIG=config-iris.py,config-iris-sklearn-model.py
{
    'model': {
        '!': 'sklearn.linear_model.LogisticRegression',
        'C': 1.0,
        'max_iter': 500,
    },
}
