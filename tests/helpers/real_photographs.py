"""Real photographs as JPEG files: sklearn's china.jpg and flower.jpg (640x427) and crops and resizes of
them made with Pillow, so that the eval resize sees landscape, portrait, odd, upscaled and downscaled images."""
from PIL import Image

from helpers import require

JPEG_QUALITY = 92
# name -> how the image is made from sklearn's two photographs (Pillow images).
PHOTOGRAPHS = {
    'china': lambda china, flower: china,                                  # landscape, downscaled
    'flower': lambda china, flower: flower,
    'china_portrait_333x517': lambda china, flower: china.rotate(90, expand=True).crop((40, 60, 373, 577)),
    'flower_517x333': lambda china, flower: flower.crop((60, 50, 577, 383)),
    'china_257x255': lambda china, flower: china.crop((200, 100, 457, 355)),
    'flower_100x80': lambda china, flower: flower.resize((100, 80), Image.LANCZOS),   # upscaled
    # MindSpore's Resize(int) on a Pillow image makes the long side one pixel short of torchvision's here:
    # 64x93 at 256 (371, not 372) and 118x116 at 232 (235, not 236).
    'china_64x93': lambda china, flower: china.crop((300, 150, 364, 243)),
    'flower_118x116': lambda china, flower: flower.resize((118, 116), Image.LANCZOS),
}


def sklearn_photographs():
    """(china, flower): sklearn's two sample photographs as Pillow RGB images."""
    datasets = require('sklearn.datasets')
    return tuple(Image.fromarray(pixels) for pixels in datasets.load_sample_images().images)


def write_photographs(directory):
    """Save every image of `PHOTOGRAPHS` as `<directory>/<name>.jpg`; returns {name: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    china, flower = sklearn_photographs()
    paths = {}
    for name, make in PHOTOGRAPHS.items():
        paths[name] = directory / f'{name}.jpg'
        make(china, flower).save(paths[name], quality=JPEG_QUALITY)
    return paths
