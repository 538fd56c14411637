"""ResNeSt's data recipe (Zhang et al., 2020, Sec. 5.1): the zoo's data settings (`zoo_core.data.recipe`:
random resized crop 224, flip, colour jitter 0.4, eval resize 256 / crop 224, bilinear, ImageNet mean/std)
with AutoAugment's ImageNet policy and mixup 0.2.

The pipelines that apply it are shared: `zoo_core.data.dataset`.
"""
# {key: (value, source)}: what ResNeSt's data recipe changes in the zoo's data settings.
DATA_RECIPE = dict(
    autoaugment=('autoaugment', 'paper'),
    mixup=(0.2, 'paper'),
    eval_batch_size=(64, 'ModelZoo'),
)
