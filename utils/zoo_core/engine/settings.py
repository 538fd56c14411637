"""Every setting of a run, each declared beside the code that reads it, assembled in one catalogue.

`python ResNeSt50/train.py --print_config` shows each key's effective value and the layer that set it;
its declaration is the module that `zoo default (module; source)` names.
"""
from typing import Dict, Tuple

from zoo_core.data.recipe import DATA_SETTINGS
from zoo_core.engine.crossentropy import LOSS_SETTINGS
from zoo_core.engine.eval_callback import EVAL_CALLBACK_SETTINGS
from zoo_core.engine.evaluate import EVALUATION_SETTINGS
from zoo_core.engine.monitor import MONITOR_SETTINGS
from zoo_core.engine.run_checkpoints import RUN_FOLDER_SETTINGS
from zoo_core.engine.train_step import STEP_SETTINGS
from zoo_core.models.backbone import NETWORK_SETTINGS
from zoo_core.optim.ema import EMA_SETTINGS
from zoo_core.optim.lr_schedule import SCHEDULE_SETTINGS
from zoo_core.optim.optimizer import OPTIMIZER_SETTINGS
from zoo_core.runtime.config import Setting, catalogue
from zoo_core.runtime.devices import DEVICE_SETTINGS
from zoo_core.runtime.reproducibility import REPRODUCIBILITY_SETTINGS
from zoo_core.weights.pretrained import PRETRAINED_SETTINGS

# {name: Setting} of every key a train or eval command takes, in the order `--help` lists them.
ZOO_SETTINGS: Dict[str, Setting] = catalogue(
    NETWORK_SETTINGS, SCHEDULE_SETTINGS, OPTIMIZER_SETTINGS, LOSS_SETTINGS, STEP_SETTINGS, EMA_SETTINGS,
    DATA_SETTINGS, DEVICE_SETTINGS, RUN_FOLDER_SETTINGS, PRETRAINED_SETTINGS, EVALUATION_SETTINGS,
    MONITOR_SETTINGS, EVAL_CALLBACK_SETTINGS, REPRODUCIBILITY_SETTINGS)
# The keys that evaluation reads (eval.py --help lists them) and those that only it reads.
EVAL_KEYS: Tuple[str, ...] = tuple(name for name, setting in ZOO_SETTINGS.items() if setting.eval)
TRAIN_KEYS: Tuple[str, ...] = tuple(name for name, setting in ZOO_SETTINGS.items() if setting.train)
