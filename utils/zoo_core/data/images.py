"""What counts as an image file, the same for training, evaluation, inference and scoring.

The extension is compared case-insensitively (`x.Jpg` is an image everywhere); MindSpore's
`ImageFolderDataset` compares it as written, so it is given every spelling (`extension_spellings`).
"""
import itertools
import os

IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png', '.bmp')


def is_image_file(file_name):
    """True for a file name with one of `IMAGE_EXTENSIONS`, in any letter case."""
    return os.path.splitext(file_name)[1].lower() in IMAGE_EXTENSIONS


def extension_spellings(extensions=IMAGE_EXTENSIONS):
    """Every upper/lower-case spelling of `extensions` ('.jpg', '.jpG', ... '.JPG'), for `ImageFolderDataset`."""
    return sorted({''.join(letters) for extension in extensions
                   for letters in itertools.product(*((c.lower(), c.upper()) for c in extension))})
