"""Convert reference PyTorch weights (the ResNeSt authors', timm's, torchvision's) to a MindSpore checkpoint.

    python utils/convert_weights.py resnest50-528c19ca.pth resnest50.ckpt [--net resnest50]

Every tensor is checked against the network; without `--net` the variant is told from the shapes.
`.safetensors` sources need no PyTorch.
"""
import argparse

from zoo_core.runtime.errors import ZooError
from zoo_core.weights.convert import convert_checkpoint
from zoo_core.weights.files import MINDSPORE_SUFFIX, SAFETENSORS_SUFFIX, TORCH_SUFFIXES
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnext.family import FAMILY as RESNEXT

# The families whose variants the weights may be of.
FAMILIES = (RESNEST, RESNEXT)
# Failures that are the input's fault: reported in one line (exit code 2), without a traceback.
INPUT_ERRORS = (OSError, ZooError)
INPUT_ERROR_EXIT_CODE = 2


def parse_args(argv=None):
    """The command line: source file, destination checkpoint, optional variant name."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('src',
                        help=f"reference weights ({', '.join(TORCH_SUFFIXES)} or {SAFETENSORS_SUFFIX})")
    parser.add_argument('dst', help=f"MindSpore checkpoint to write ({MINDSPORE_SUFFIX})")
    parser.add_argument('--net', default=None,
                        help="variant the weights are for, e.g. resnest50 (default: told from the shapes)")
    args = parser.parse_args(argv)
    if not args.dst.endswith(MINDSPORE_SUFFIX):
        parser.error(f"the destination must be a {MINDSPORE_SUFFIX} file, got {args.dst}")
    return parser, args


def main(argv=None):
    """Run the conversion; input errors exit with code 2 and a one-line message."""
    parser, args = parse_args(argv)
    try:
        name = convert_checkpoint(args.src, args.dst, name=args.net,
                                  registries=tuple(family.registry for family in FAMILIES))
    except INPUT_ERRORS as err:
        parser.exit(INPUT_ERROR_EXIT_CODE, f"{parser.prog}: error: {err}\n")
    print(f"{args.src} -> {args.dst} ({name})")


if __name__ == '__main__':
    main()
