# Layered on the iris config: PLD_CONFIG=../iris/config.py,config-auth.py
# with PLD_BASIC_AUTH_USER and PLD_BASIC_AUTH_PASSWORD set in the environment.
{
    'predict_decorators': ['basic_auth.requires_auth'],
    'alive_decorators': ['basic_auth.requires_auth'],
    'list_decorators': ['basic_auth.requires_auth'],
    'page_decorators': ['basic_auth.requires_auth'],
    'server_fit_decorators': ['basic_auth.requires_auth'],
    'update_model_cache_decorators': ['basic_auth.requires_auth'],
    'activate_decorators': ['basic_auth.requires_auth'],
    'flask_add_url_rules': [
        {'!': 'url-rule', 'rule': '/fit', 'view_func': 'fit', 'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/update-model-cache', 'view_func': 'update-model-cache',
         'methods': ['POST']},
        {'!': 'url-rule', 'rule': '/activate', 'view_func': 'activate', 'methods': ['POST']},
    ],
}
