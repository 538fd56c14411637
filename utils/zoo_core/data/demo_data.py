"""The built-in demo dataset: coloured geometric shapes in 10 classes, generated once, deterministically.

A small learnable ImageFolder tree (`train/<class>/*.jpg`, `val/<class>/*.jpg`) so that the whole
train -> eval -> export path runs on a fresh machine with no download. Each class is a shape drawn in
its own hue (varying in saturation, brightness, size, position and rotation) over a noisy grey
background: the hue makes it learnable from scratch in a few hundred steps (shape alone needs thousands,
measured with timm's resnest14d as well as ours), the shape gives the network spatial structure to use.
"""
import colorsys
import math
import os
import shutil
import tempfile

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ('circle', 'square', 'triangle', 'cross', 'ring', 'star', 'diamond', 'hbar', 'vbar', 'hexagon')
IMAGE_SIZE = 64
TRAIN_PER_CLASS = 60
VAL_PER_CLASS = 20
SEED = 2025
JPEG_QUALITY = 90
BACKGROUND_NOISE = 24
SQUARE_MAX_TILT = 0.3  # radians
HUE_JITTER = 0.03  # fraction of the colour wheel; classes are 0.1 apart
COMPLETE_MARKER = '.complete'
# What a run on the demo dataset changes in a recipe: its 10 classes and 64-pixel images (no crop at
# evaluation, a milder random crop), and a few minutes of training on 2 CPU cores.
DEMO_RUN = dict(
    num_classes=len(SHAPES), epochs=6, batch_size=32, base_lr=0.1, warmup_epochs=1, image_size=IMAGE_SIZE,
    crop_pct=1.0, crop_scale_min=0.35, eval_batch_size=50, log_every=5,
    keep_checkpoint_max=1,      # the last checkpoint (to resume) beside best.ckpt: 2 files of 200 MB, not 6
)
# utils/zoo_core/data/demo_data.py -> the repository root, where `demo_data/` is git-ignored.
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir))
DEFAULT_DEMO_DIR = os.path.join(REPO_ROOT, 'demo_data', 'shapes10')


def _polygon(center, radius, sides, rotation):
    cx, cy = center
    return [(cx + radius * math.cos(rotation + 2 * math.pi * k / sides),
             cy + radius * math.sin(rotation + 2 * math.pi * k / sides)) for k in range(sides)]


def _star(center, radius, rotation):
    cx, cy = center
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.45
        angle = rotation + math.pi * k / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def draw_shape(draw, shape, center, radius, rotation, colour):
    """Draw one filled shape of class `shape`."""
    cx, cy = center
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    thickness = max(2, int(radius * 0.35))
    if shape == 'circle':
        draw.ellipse(box, fill=colour)
    elif shape == 'ring':
        draw.ellipse(box, outline=colour, width=thickness)
    elif shape == 'square':
        # An upright square, tilted at most SQUARE_MAX_TILT so that it never becomes a diamond.
        tilt = (rotation / math.pi - 1.0) * SQUARE_MAX_TILT
        draw.polygon(_polygon(center, radius * 1.2, 4, math.pi / 4 + tilt), fill=colour)
    elif shape == 'diamond':
        draw.polygon(_polygon(center, radius, 4, 0.0), fill=colour)
    elif shape == 'triangle':
        draw.polygon(_polygon(center, radius, 3, rotation), fill=colour)
    elif shape == 'hexagon':
        draw.polygon(_polygon(center, radius, 6, rotation), fill=colour)
    elif shape == 'star':
        draw.polygon(_star(center, radius, rotation), fill=colour)
    elif shape == 'cross':
        draw.rectangle((cx - radius, cy - thickness / 2, cx + radius, cy + thickness / 2), fill=colour)
        draw.rectangle((cx - thickness / 2, cy - radius, cx + thickness / 2, cy + radius), fill=colour)
    elif shape == 'hbar':
        draw.rectangle((cx - radius, cy - thickness / 2, cx + radius, cy + thickness / 2), fill=colour)
    elif shape == 'vbar':
        draw.rectangle((cx - thickness / 2, cy - radius, cx + thickness / 2, cy + radius), fill=colour)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def class_colour(rng, class_index):
    """An RGB colour of the class's hue (evenly spaced around the wheel, jittered) at random saturation
    and brightness."""
    hue = (class_index / len(SHAPES) + rng.uniform(-HUE_JITTER, HUE_JITTER)) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 1.0), rng.uniform(0.6, 1.0))
    return int(red * 255), int(green * 255), int(blue * 255)


def render_image(rng, shape, size=IMAGE_SIZE):
    """One RGB image of `shape` in its class hue, random size, position and rotation, on noisy grey."""
    grey = rng.integers(20, 110)
    pixels = np.clip(grey + rng.normal(0, BACKGROUND_NOISE, (size, size, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    colour = class_colour(rng, SHAPES.index(shape))
    radius = rng.uniform(0.22, 0.38) * size
    center = tuple(rng.uniform(radius + 1, size - radius - 1, size=2))
    draw_shape(ImageDraw.Draw(image), shape, center, radius=radius, rotation=rng.uniform(0, 2 * math.pi),
               colour=colour)
    return image


def write_images(folder, train_per_class=TRAIN_PER_CLASS, val_per_class=VAL_PER_CLASS, seed=SEED):
    """Write the dataset's images and its completion marker into the new folder `folder`."""
    rng = np.random.default_rng(seed)
    for split, count in (('train', train_per_class), ('val', val_per_class)):
        for shape in SHAPES:
            class_folder = os.path.join(folder, split, shape)
            os.makedirs(class_folder)
            for index in range(count):
                render_image(rng, shape).save(os.path.join(class_folder, f'{shape}_{index:04d}.jpg'),
                                              quality=JPEG_QUALITY)
    open(os.path.join(folder, COMPLETE_MARKER), 'w', encoding='utf-8').close()


def staging_folder(root):
    """A new empty folder beside `root`, to write a copy in before it takes `root`'s place."""
    parent = os.path.dirname(os.path.abspath(root)) or '.'
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix='.demo_data_', dir=parent)


def is_complete(root):
    """Whether `root` holds a whole copy (its completion marker is written last)."""
    return os.path.isfile(os.path.join(root, COMPLETE_MARKER))


def generate(root, train_per_class=TRAIN_PER_CLASS, val_per_class=VAL_PER_CLASS, seed=SEED):
    """Write the dataset under `root`, replacing what is there; the same files for the same arguments."""
    staging = staging_folder(root)
    write_images(staging, train_per_class, val_per_class, seed)
    if os.path.isdir(root):
        shutil.rmtree(root)
    os.replace(staging, root)
    return root


def ensure_demo_dataset(root=DEFAULT_DEMO_DIR):
    """The demo dataset's folder, generated on first use (a complete earlier copy is reused).

    Safe when several processes ask at once (the ranks of a distributed demo run): each writes its own copy
    beside `root`, the first to finish renames it into place, and the others, finding a complete copy, drop
    theirs. A copy left incomplete by an interrupted run is replaced.
    """
    if is_complete(root):
        return root
    staging = staging_folder(root)
    write_images(staging)
    if os.path.isdir(root) and not is_complete(root):
        shutil.rmtree(root, ignore_errors=True)
    try:
        os.replace(staging, root)  # atomic; refused when another process has put its copy there first
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not is_complete(root):
            raise
    return root
