"""ResNeSt variants: the authors' (resnest50/101/200/269) and timm's (resnest14d/26d/50d_*).

Named `resnest.py` as the authors' file of the resnest50..269 constructors (`resnest/torch/models/resnest.py`)
and the ModelZoo card; the block and the backbone configuration are in `resnet.py`.

Each is a configuration of the shared backbone; `pretrained` gives the reference weights' file names
and the evaluation preprocessing published with them.
"""
from zoo_core.models.registry import PretrainedConfig, Registry, Variant, sha256_in_file_name

from .resnet import resnest

AUTHORS_URL = 'https://s3.us-west-1.wasabisys.com/resnest/torch/{}'
# timm's own release files of its ResNeSt weights, named with the start of their SHA-256 as the authors'
# are: the hub's copies (`timm/<tag>`, all called `model.safetensors`) carry no hash to check a download by.
TIMM_RELEASES = 'https://github.com/rwightman/pytorch-image-models/releases/download/{}'
TIMM_RELEASE_FILES = {
    'resnest14d.gluon_in1k': 'v0.1-weights/gluon_resnest14-9c8fe254.pth',
    'resnest26d.gluon_in1k': 'v0.1-weights/gluon_resnest26-50eb607c.pth',
    'resnest50d_1s4x24d.in1k': 'v0.1-resnest/resnest50_fast_1s4x24d-d4a4f76f.pth',
    'resnest50d_4s2x40d.in1k': 'v0.1-resnest/resnest50_fast_4s2x40d-41d14ed0.pth',
}


def _authors(name, sha, **preprocessing):
    file_name = f'{name}-{sha}.pth'
    return PretrainedConfig(file_names=(file_name,), url=AUTHORS_URL.format(file_name), sha256=sha,
                            **preprocessing)


def _timm(tag, **preprocessing):
    """timm's weights `tag`: downloaded as its hash-named release file; the hub's names are found too."""
    release = TIMM_RELEASE_FILES[tag]
    file_name = release.rsplit('/', 1)[1]
    return PretrainedConfig(file_names=(file_name, f'{tag}.safetensors', f'{tag}.pth'),
                            url=TIMM_RELEASES.format(release), sha256=sha256_in_file_name(file_name),
                            **preprocessing)


RESNEST_VARIANTS = {
    'resnest50': Variant(resnest, dict(layers=(3, 4, 6, 3), stem_width=32),
                         _authors('resnest50', '528c19ca')),
    'resnest101': Variant(resnest, dict(layers=(3, 4, 23, 3), stem_width=64),
                          _authors('resnest101', '22405ba7', input_size=256)),
    'resnest200': Variant(resnest, dict(layers=(3, 24, 36, 3), stem_width=64),
                          _authors('resnest200', '75117900', input_size=320, crop_pct=0.909,
                                   interpolation='bicubic')),
    'resnest269': Variant(resnest, dict(layers=(3, 30, 48, 8), stem_width=64),
                          _authors('resnest269', '0cc87c48', input_size=416, crop_pct=0.928,
                                   interpolation='bicubic')),
    'resnest14d': Variant(resnest, dict(layers=(1, 1, 1, 1), stem_width=32),
                          _timm('resnest14d.gluon_in1k')),
    'resnest26d': Variant(resnest, dict(layers=(2, 2, 2, 2), stem_width=32),
                          _timm('resnest26d.gluon_in1k')),
    'resnest50d_1s4x24d': Variant(resnest, dict(layers=(3, 4, 6, 3), stem_width=32, radix=1, cardinality=4,
                                                base_width=24, avd_first=True),
                                  _timm('resnest50d_1s4x24d.in1k', interpolation='bicubic')),
    'resnest50d_4s2x40d': Variant(resnest, dict(layers=(3, 4, 6, 3), stem_width=32, radix=4, cardinality=2,
                                                base_width=40, avd_first=True),
                                  _timm('resnest50d_4s2x40d.in1k', interpolation='bicubic')),
}

REGISTRY = Registry('ResNeSt', RESNEST_VARIANTS)
