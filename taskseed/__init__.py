"""taskseed: task-seeded synthetic Q&A for continued pretraining."""

__version__ = "0.1.0"

# Typed config sections register with Hydra's ConfigStore on import, so any composition sees them.
from taskseed.core import settings as _settings  # noqa: E402,F401
from taskseed.evaluation import config as _eval_config  # noqa: E402,F401
from taskseed.experiments import config as _experiment_config  # noqa: E402,F401
from taskseed.filter import config as _filter_config  # noqa: E402,F401
from taskseed.mix import config as _mix_config  # noqa: E402,F401
from taskseed.sources import config as _sources_config  # noqa: E402,F401
from taskseed.synth import config as _synth_config  # noqa: E402,F401
from taskseed.training import config as _train_config  # noqa: E402,F401
