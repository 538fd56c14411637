"""Sort ImageNet's flat validation folder into class folders, from the devkit's labels.

    python utils/imagenet_val_folders.py VAL_DIR DEVKIT [--copy]

`ILSVRC2012_img_val.tar` unpacks to 50,000 files `ILSVRC2012_val_00000001.JPEG` ... in one folder, while
training and evaluation read an ImageFolder tree `val/<wnid>/<image>`. DEVKIT is
`ILSVRC2012_devkit_t12.tar.gz` or the folder it unpacks to: its `data/ILSVRC2012_validation_ground_truth.txt`
gives the class id (1-1000) of image n on line n, and `data/meta.mat` the WordNet id (`n01440764`) of each
class id (read with scipy). Each image is moved (`--copy`: copied) into `VAL_DIR/<wnid>/`. The folder
names are the training set's, so the class indices of train/ and val/ agree. Images already in their class
folder are left as they are, so an interrupted run can be started again. Every image is checked before
any is moved: a missing or unexpected file is an error and nothing changes.
"""
import argparse
import io
import os
import shutil
import sys
import tarfile

from zoo_core.runtime.errors import MissingFileError, ZooError, run_command

GROUND_TRUTH = 'data/ILSVRC2012_validation_ground_truth.txt'
META = 'data/meta.mat'
IMAGE_NAME = 'ILSVRC2012_val_{:08d}.JPEG'


class DevkitError(ZooError):
    """A devkit or validation folder that does not match ImageNet's."""


def read_devkit_file(devkit, member):
    """The bytes of `member` (a path inside the devkit, e.g. `data/meta.mat`) of a devkit folder or archive."""
    if os.path.isdir(devkit):
        path = os.path.join(devkit, member)
        if not os.path.isfile(path):
            raise MissingFileError(f"{path} not found: DEVKIT must be ILSVRC2012_devkit_t12(.tar.gz)")
        with open(path, 'rb') as handle:
            return handle.read()
    if not os.path.isfile(devkit):
        raise MissingFileError(f"devkit not found: {devkit}")
    try:
        with tarfile.open(devkit) as archive:
            for info in archive.getmembers():
                # The archive holds ILSVRC2012_devkit_t12/data/...; match the path below the top folder.
                if info.isfile() and info.name.split('/', 1)[-1] == member:
                    return archive.extractfile(info).read()
    except tarfile.TarError as error:
        raise DevkitError(f"{devkit} is neither a folder nor a readable tar archive: {error}") from None
    raise DevkitError(f"{devkit} holds no {member}: DEVKIT must be ILSVRC2012_devkit_t12(.tar.gz)")


def class_wnids(meta_bytes):
    """{ILSVRC2012 class id: WordNet id} of the 1000 leaf classes in the devkit's meta.mat."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DevkitError("reading the devkit's meta.mat needs scipy: pip install scipy") from None
    synsets = loadmat(io.BytesIO(meta_bytes), squeeze_me=True)['synsets']
    return {int(ident): str(wnid) for ident, wnid, children in
            zip(synsets['ILSVRC2012_ID'], synsets['WNID'], synsets['num_children']) if int(children) == 0}


def image_classes(devkit):
    """[(image file name, WordNet id)] of the validation images, in the ground truth's order."""
    wnids = class_wnids(read_devkit_file(devkit, META))
    lines = read_devkit_file(devkit, GROUND_TRUTH).decode('ascii').split()
    unknown = sorted({int(ident) for ident in lines} - set(wnids))
    if unknown:
        raise DevkitError(f"the ground truth names class ids that meta.mat lacks: {unknown[:5]}")
    return [(IMAGE_NAME.format(number), wnids[int(ident)]) for number, ident in enumerate(lines, start=1)]


def plan_moves(val_dir, labelled):
    """(source, destination) of every image still to be sorted; raises before anything moves if an image
    is missing or the folder holds an image that the ground truth does not name."""
    if not os.path.isdir(val_dir):
        raise MissingFileError(f"validation folder not found: {val_dir}")
    moves, missing = [], []
    for name, wnid in labelled:
        source, destination = os.path.join(val_dir, name), os.path.join(val_dir, wnid, name)
        if os.path.isfile(source):
            moves.append((source, destination))
        elif not os.path.isfile(destination):
            missing.append(name)
    if missing:
        raise DevkitError(f"{len(missing)} validation image(s) neither in {val_dir} nor in their class "
                          f"folder, e.g. {', '.join(missing[:3])}")
    named = {name for name, _ in labelled}
    strays = sorted(entry.name for entry in os.scandir(val_dir) if entry.is_file() and entry.name not in named)
    if strays:
        raise DevkitError(f"{len(strays)} file(s) in {val_dir} that the ground truth does not name, "
                          f"e.g. {', '.join(strays[:3])}")
    return moves


def sort_validation_images(val_dir, devkit, copy=False):
    """Move (or copy) the flat validation images of `val_dir` into `val_dir/<wnid>/`; returns how many."""
    moves = plan_moves(val_dir, image_classes(devkit))
    transfer = shutil.copy2 if copy else os.replace
    for source, destination in moves:
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        transfer(source, destination)
    return len(moves)


def main(argv=None):
    """Command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n\n')[0])
    parser.add_argument('val_dir', help="folder of ILSVRC2012_val_*.JPEG (ILSVRC2012_img_val.tar unpacked)")
    parser.add_argument('devkit', help="ILSVRC2012_devkit_t12.tar.gz or the folder it unpacks to")
    parser.add_argument('--copy', action='store_true', help="copy the images instead of moving them")
    args = parser.parse_args(argv)

    def sort_images():
        count = sort_validation_images(args.val_dir, args.devkit, args.copy)
        classes = sum(entry.is_dir() for entry in os.scandir(args.val_dir))
        print(f"{'copied' if args.copy else 'moved'} {count} images into {classes} class folders of {args.val_dir}")
    return run_command(sort_images)


if __name__ == '__main__':
    sys.exit(main())
