"""A model folder's `train.py` for a tiny network: the zoo's real training engine, seconds per run.

    python tiny_train.py [--key value ...]     (the flags of any train.py; --net tinynet is the default)

The network is conv-BN-ReLU twice, a global mean and a classifier (a few thousand parameters, with BN
statistics, momentum buffers and a step counter like the real ones), so that the fault tests of
interruption and resume (tests/test_resume.py) run the whole engine many times within their budget.
"""
import sys

from mindspore import nn

from zoo_core.engine.settings import ZOO_SETTINGS
from zoo_core.engine.train import main
from zoo_core.models.family import ModelFamily
from zoo_core.models.registry import PretrainedConfig, Registry, Variant
from zoo_core.runtime.config import Layer
from zoo_resnest.config import DEMO_PRESET, RECIPE_LAYER

TINY_NET = 'tinynet'
WIDTH = 8
IMAGE_SIZE = 32


class TinyNet(nn.Cell):
    """Two strided conv-BN-ReLU layers, a global mean, a classifier (`fc`, as the zoo's networks)."""

    def __init__(self, num_classes=10, **options):
        super().__init__()
        del options  # drop rates and zero-init of the real networks: nothing of the kind here
        self.features = nn.SequentialCell(
            nn.Conv2d(3, WIDTH, 3, stride=2, pad_mode='same'), nn.BatchNorm2d(WIDTH), nn.ReLU(),
            nn.Conv2d(WIDTH, 2 * WIDTH, 3, stride=2, pad_mode='same'), nn.BatchNorm2d(2 * WIDTH), nn.ReLU())
        self.fc = nn.Dense(2 * WIDTH, num_classes)

    def construct(self, x):
        return self.fc(self.features(x).mean(axis=(2, 3)))


REGISTRY = Registry('Tiny', {TINY_NET: Variant(TinyNet, pretrained=PretrainedConfig(input_size=IMAGE_SIZE,
                                                                                    crop_pct=1.0))})
RECIPE = Layer('tiny recipe: ResNeSt\'s with the tiny network', dict(RECIPE_LAYER.values, net=TINY_NET))
FAMILY = ModelFamily(REGISTRY, ZOO_SETTINGS, RECIPE, DEMO_PRESET)

if __name__ == '__main__':
    sys.exit(main(FAMILY))
