"""How far the C++ eval ops (the 'fast' path, and the Ascend 310 program, which calls the same ops:
Decode, Resize(shorter side, kLinear or kCubicPil), CenterCrop, Normalize, HWC2CHW) are from the reference
preprocessing of the published weights, on real photographs.

The reference is `zoo_core.data.reference_eval` (torchvision's Resize + CenterCrop on Pillow images;
`tests/test_preprocessing_fidelity.py` proves it equal to torchvision's and timm's). For every distinct
(resize, crop, filter) of the variants and every photograph (sklearn's two, and the crops and resizes of
`tests/helpers/real_photographs.py`'s set, rebuilt here), it prints the mean and max |diff| of the uint8 crop,
the share of differing values, the max |diff| of the normalised tensor, and the same for the resize alone
(the crop taken at the reference's offset), which separates the filter from the crop offset.

Usage: python benchmarks/preprocessing_difference.py
"""
import io

import numpy as np
import mindspore.dataset.vision as vision
from PIL import Image

from zoo_core.data.dataset import eval_resize_size, interpolation_mode, normalize_ops
from zoo_core.data.reference_eval import reference_crop_ops, reference_normalize_ops, reference_resized_size
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD

JPEG_QUALITY = 92
# (input size, crop_pct, interpolation) of the variants (ResNeSt's and ResNeXt's `PretrainedConfig`s).
SETTINGS = [(224, 0.875, 'bilinear'), (256, 0.875, 'bilinear'), (224, 224 / 232, 'bilinear'),
            (224, 0.875, 'bicubic'), (320, 0.909, 'bicubic'), (416, 0.928, 'bicubic')]


def photographs():
    """name -> JPEG bytes: sklearn's photographs and Pillow crops/resizes of them (as the tests' set)."""
    from sklearn.datasets import load_sample_images
    china, flower = (Image.fromarray(pixels) for pixels in load_sample_images().images)
    images = {'china': china, 'flower': flower,
              'china_portrait_333x517': china.rotate(90, expand=True).crop((40, 60, 373, 577)),
              'flower_517x333': flower.crop((60, 50, 577, 383)),
              'china_257x255': china.crop((200, 100, 457, 355)),
              'flower_100x80': flower.resize((100, 80), Image.LANCZOS),
              'china_64x93': china.crop((300, 150, 364, 243)),
              'flower_118x116': flower.resize((118, 116), Image.LANCZOS)}
    encoded = {}
    for name, image in images.items():
        buffer = io.BytesIO()
        image.save(buffer, format='JPEG', quality=JPEG_QUALITY)
        encoded[name] = np.frombuffer(buffer.getvalue(), dtype=np.uint8)
    return encoded


def apply(ops, data):
    """`data` through `ops`, as a numpy array."""
    for op in ops:
        data = op(data)
    return np.asarray(data)


def center_offset(size, crop):
    """torchvision's CenterCrop offset."""
    return int(round((size - crop) / 2.0))


def measure(data, image_size, crop_pct, interpolation):
    """Differences of the C++ path from the reference for one photograph and one setting."""
    resize = eval_resize_size(image_size, crop_pct)
    reference = apply(reference_crop_ops(resize, image_size, interpolation), data)
    fast_ops = [vision.Decode(), vision.Resize(resize, interpolation=interpolation_mode(interpolation)),
                vision.CenterCrop(image_size)]
    fast = apply(fast_ops, data)
    decoded = vision.Decode()(data)
    resized = vision.Resize(resize, interpolation=interpolation_mode(interpolation))(decoded)
    target = reference_resized_size(decoded.shape[1], decoded.shape[0], resize)
    top, left = center_offset(target[0], image_size), center_offset(target[1], image_size)
    resize_only = resized[top:top + image_size, left:left + image_size]
    normalised_reference = apply(reference_normalize_ops(IMAGENET_MEAN, IMAGENET_STD), Image.fromarray(reference))
    normalised_fast = apply(normalize_ops(IMAGENET_MEAN, IMAGENET_STD), fast)
    crop_diff = np.abs(fast.astype(int) - reference)
    resize_diff = np.abs(resize_only.astype(int) - reference) if resized.shape[:2] == target else None
    return dict(mean=crop_diff.mean(), max=crop_diff.max(), share=(crop_diff > 0).mean(),
                normalised=np.abs(normalised_fast - normalised_reference).max(),
                resize_mean=resize_diff.mean() if resize_diff is not None else float('nan'),
                resize_max=resize_diff.max() if resize_diff is not None else -1,
                same_size=resized.shape[:2] == target)


def main():
    """Print one line per (setting, photograph)."""
    images = photographs()
    print('setting | photograph | crop mean|d| | crop max|d| | differing | normalised max|d| | '
          'resize-only mean|d| | resize-only max|d| | long side as torchvision')
    for image_size, crop_pct, interpolation in SETTINGS:
        setting = f"{eval_resize_size(image_size, crop_pct)}/{image_size} {interpolation}"
        for name, data in images.items():
            m = measure(data, image_size, crop_pct, interpolation)
            print(f"{setting} | {name} | {m['mean']:.3f} | {m['max']} | {m['share']:.1%} | {m['normalised']:.3f} | "
                  f"{m['resize_mean']:.3f} | {m['resize_max']} | {m['same_size']}")


if __name__ == '__main__':
    main()
