"""Evaluate during training every N epochs; keep the best checkpoint (`best.ckpt`) with its accuracy."""
import json
import os

import mindspore as ms
from mindspore.train import Callback

BEST_CHECKPOINT = 'best.ckpt'
BEST_RESULT = 'best.json'
# best.json's key for the run's classes ({name: label}), read back by `predict.py`.
BEST_CLASS_INDEXING_KEY = 'class_indexing'


class EvalCallback(Callback):
    """Runs `evaluate_fn()` (an `Accuracy`, summed over ranks) every `interval` epochs and after the
    last one; rank 0 saves the network as `best.ckpt` whenever top-1 improves.

    `monitor.record` (the `TrainingMonitor`) receives the accuracies for the metrics log; `class_indexing`
    ({class name: label}) is written into `best.json`, so that the best weights come with their classes.
    """

    def __init__(self, net, evaluate_fn, interval, output_dir, logger, monitor=None, save=True,
                 class_indexing=None):
        super().__init__()
        self.net = net
        self.evaluate_fn = evaluate_fn
        self.interval = interval
        self.output_dir = output_dir
        self.logger = logger
        self.monitor = monitor
        self.save = save
        self.class_indexing = class_indexing
        self.best_top1 = -1.0
        self.best_epoch = None
        self.last_result = None

    def on_train_epoch_end(self, run_context):
        params = run_context.original_args()
        epoch = params.cur_epoch_num
        if epoch % self.interval and epoch != params.epoch_num:
            return
        result = self.evaluate_fn()
        self.net.set_train(True)
        self.last_result = result
        self.logger.info(f"epoch {epoch} validation: top-1 {result.top1:.4%} top-5 {result.top5:.4%} "
                         f"({result.top1_correct}/{result.total})")
        if self.monitor is not None:
            self.monitor.record.update(top1=result.top1, top5=result.top5, val_images=result.total)
        if result.top1 > self.best_top1:
            self.best_top1, self.best_epoch = result.top1, epoch
            if self.save:
                self.save_best(epoch, result)

    def save_best(self, epoch, result):
        """Write `best.ckpt` and `best.json` (epoch, counts and accuracies, the classes)."""
        path = os.path.join(self.output_dir, BEST_CHECKPOINT)
        ms.save_checkpoint(self.net, path, append_dict={'epoch_num': epoch})
        with open(os.path.join(self.output_dir, BEST_RESULT), 'w', encoding='utf-8') as handle:
            json.dump(dict(epoch=epoch, checkpoint=path, **result.as_dict(),
                           **{BEST_CLASS_INDEXING_KEY: self.class_indexing}), handle, indent=2, ensure_ascii=False)
        self.logger.info(f"new best top-1 {result.top1:.4%} at epoch {epoch}: saved {path}")
