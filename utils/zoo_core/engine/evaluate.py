"""The evaluation that every model's `eval.py` runs: checkpoint(s) or pretrained weights -> top-1/top-5
over the whole validation set, img/s, and a JSON result."""
import json
import os
import sys

from zoo_core.weights.checkpoint import checkpoint_files, load_network_checkpoint
from zoo_core.data.dataset import create_eval_dataset
from zoo_core.data.demo_data import ensure_demo_dataset
from zoo_core.runtime.distributed import setup_device
from zoo_core.engine.accuracy import evaluate
from zoo_core.runtime.logging import get_logger
from zoo_core.engine.train import EXIT_USAGE_ERROR, USAGE_ERRORS

RESULT_FILE = 'eval_result.json'


def apply_pretrained_preprocessing(cfg, preprocessing):
    """Use the eval preprocessing published with the pretrained weights (size, crop, interpolation, mean/std)."""
    cfg.image_size = preprocessing.input_size
    cfg.crop_pct = preprocessing.crop_pct
    cfg.interpolation = preprocessing.interpolation
    cfg.mean, cfg.std = list(preprocessing.mean), list(preprocessing.std)
    return cfg


def run_eval(cfg, get_network, preprocessing_for=None):
    """Evaluate `cfg.ckpt_path` (a file, or every checkpoint in a folder) or `cfg.pretrained`; returns the
    list of result dicts, also written to `<output_dir>/eval_result.json` by rank 0."""
    rank, group_size = setup_device(cfg.device_target, cfg.mode, cfg.device_id)
    if not cfg.ckpt_path and not cfg.pretrained:
        raise ValueError("nothing to evaluate: pass --ckpt_path FILE_OR_DIR or --pretrained WEIGHTS")
    cfg.data_dir = os.path.abspath(cfg.data_dir or ensure_demo_dataset())
    cfg.output_dir = os.path.abspath(cfg.output_dir or os.path.join('output', cfg.net, 'eval'))
    logger = get_logger(cfg.output_dir, rank)
    if cfg.pretrained and preprocessing_for is not None and not cfg.ckpt_path:
        cfg = apply_pretrained_preprocessing(cfg, preprocessing_for(cfg.net))
    dataset = create_eval_dataset(cfg, rank, group_size)
    sources = checkpoint_files(cfg.ckpt_path) if cfg.ckpt_path else [cfg.pretrained]
    results = []
    for source in sources:
        if cfg.ckpt_path:
            net = get_network(cfg.net, num_classes=cfg.num_classes)
            load_network_checkpoint(net, source)
        else:
            net = get_network(cfg.net, num_classes=cfg.num_classes, pretrained=source)
        result = evaluate(net, dataset, group_size)
        logger.info(f"{source}: top-1 {result.top1:.4%} top-5 {result.top5:.4%} "
                    f"({result.top1_correct}/{result.total} images, {result.images_per_second:.1f} img/s "
                    f"on rank {rank})")
        results.append(dict(checkpoint=source, net=cfg.net, data_dir=cfg.data_dir, ranks=group_size,
                            **result.as_dict()))
    if rank == 0:
        os.makedirs(cfg.output_dir, exist_ok=True)
        path = os.path.join(cfg.output_dir, RESULT_FILE)
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(results, handle, indent=2)
        logger.info(f"wrote {path}")
    return results


def main(get_config, get_network, preprocessing_for=None, argv=None):
    """Entry point of a model's `eval.py`: errors exit with a message, not a traceback."""
    try:
        run_eval(get_config(argv), get_network, preprocessing_for)
    except USAGE_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE_ERROR
    return 0
