"""A fit decorator that attaches a report to the model it persists (Palladium 1.2.3's model
attachments: ``attachments/<name>`` keys holding base64 text)."""

from base64 import b64encode
from functools import wraps

from palladium.interfaces import annotate
from palladium.util import get_config


def attach_report(fit):
    @wraps(fit)
    def wrapper(*args, **kwargs):
        config = get_config()
        X, y = config["dataset_loader_train"]()
        report = f"trained on {len(X)} samples: {sorted(set(y))}\n"
        annotate(
            config["model"],
            {"attachments/report.txt": b64encode(report.encode("utf-8")).decode("ascii")},
        )
        return fit(*args, **kwargs)

    return wrapper
