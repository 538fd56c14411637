"""Evaluate during training every N epochs; keep the best checkpoint (`best.ckpt`) with its accuracy."""
import json
import os

from mindspore.train import Callback

from zoo_core.engine.checkpointing import save_atomically

BEST_CHECKPOINT = 'best.ckpt'
BEST_RESULT = 'best.json'


class EvalCallback(Callback):
    """Runs `evaluate_fn()` (an `Accuracy`, summed over ranks) every `interval` epochs and after the
    last one; rank 0 saves the network as `best.ckpt` whenever top-1 improves.

    `monitor.record` (the `TrainingMonitor`) receives the accuracies for the metrics log; `best` is the
    (top-1, epoch) to beat, None for a new run.
    """

    def __init__(self, net, evaluate_fn, interval, output_dir, logger, monitor=None, save=True, best=None):
        super().__init__()
        self.net = net
        self.evaluate_fn = evaluate_fn
        self.interval = interval
        self.output_dir = output_dir
        self.logger = logger
        self.monitor = monitor
        self.save = save
        # A resumed run starts from the best so far (`read_best`): only a better model replaces best.ckpt.
        self.best_top1, self.best_epoch = best if best else (-1.0, None)
        self.last_result = None

    def on_train_epoch_end(self, run_context):
        if run_context.get_stop_requested():  # stopped mid-epoch (a signal): the epoch has not ended
            return
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
        """Write `best.ckpt` and `best.json` (epoch, counts and accuracies)."""
        path = os.path.join(self.output_dir, BEST_CHECKPOINT)
        save_atomically(self.net, path, append_dict={'epoch_num': epoch})
        result_path = os.path.join(self.output_dir, BEST_RESULT)
        with open(result_path + '.tmp', 'w', encoding='utf-8') as handle:
            json.dump(dict(epoch=epoch, checkpoint=path, **result.as_dict()), handle, indent=2)
        os.replace(result_path + '.tmp', result_path)
        self.logger.info(f"new best top-1 {result.top1:.4%} at epoch {epoch}: saved {path}")


def read_best(output_dir):
    """(top-1, epoch) of `output_dir/best.json`, or None when there is none (or it is unreadable)."""
    path = os.path.join(output_dir, BEST_RESULT)
    try:
        with open(path, encoding='utf-8') as handle:
            best = json.load(handle)
        return float(best['top1']), int(best['epoch'])
    except (OSError, ValueError, KeyError, TypeError):
        return None
