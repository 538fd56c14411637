"""ResNeXt's data recipe: the zoo's data settings (`zoo_core.data.recipe`: random resized crop 224, flip,
colour jitter 0.4, eval resize 256 / crop 224, bilinear, ImageNet mean/std), as the MindSpore ModelZoo's
ResNeXt50 recipe trains: no automatic augmentation and no mixup.

The pipelines that apply it are shared: `zoo_core.data.dataset`.
"""
# {key: (value, source)}: what ResNeXt's data recipe states (the zoo's values, from the ModelZoo recipe).
DATA_RECIPE = dict(
    autoaugment=('none', 'ModelZoo'),
    mixup=(0.0, 'ModelZoo'),
)
