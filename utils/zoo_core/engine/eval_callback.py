"""Evaluate during training every N epochs; keep the best checkpoint of the raw weights (`best.ckpt`) and,
with a model EMA, of the EMA weights (`best_ema.ckpt`), each with its accuracy in a JSON file.

Both checkpoints hold plain network weights (the EMA's under the network's own names), so eval.py,
export.py and `--pretrained` read either; `best.json` / `best_ema.json` say which weights the file
beside them holds (`"weights": "raw"` or `"ema"`).
"""
import json
import os

from mindspore.train import Callback

from zoo_core.engine.run_checkpoints import save_atomically
from zoo_core.runtime.config import Setting, declare

BEST_CHECKPOINT = 'best.ckpt'
BEST_RESULT = 'best.json'
BEST_EMA_CHECKPOINT = 'best_ema.ckpt'
BEST_EMA_RESULT = 'best_ema.json'
RAW, EMA = 'raw', 'ema'
BEST_FILES = {RAW: (BEST_CHECKPOINT, BEST_RESULT), EMA: (BEST_EMA_CHECKPOINT, BEST_EMA_RESULT)}


class BestTracker:
    """The best top-1 so far of one kind of weights ('raw' or 'ema') and where it was reached."""

    def __init__(self, weights, top1=-1.0, epoch=None):
        self.weights = weights
        self.top1 = top1
        self.epoch = epoch

    def improved_by(self, result, epoch):
        """Record `result` of `epoch`; True when it beats the best so far."""
        if result.top1 <= self.top1:
            return False
        self.top1, self.epoch = result.top1, epoch
        return True
# best.json's key for the run's classes ({name: label}), read back by `predict.py`.
BEST_CLASS_INDEXING_KEY = 'class_indexing'


class EvalCallback(Callback):
    """Runs `evaluate_fn()` (an `Accuracy`, summed over ranks) every `interval` epochs and after the
    last one; rank 0 saves the network as `best.ckpt` whenever top-1 improves. With `ema` (a
    `zoo_core.optim.ema.ModelEma`) the EMA weights are evaluated too and their best saved as `best_ema.ckpt`.

    `monitor.record` (the `TrainingMonitor`) receives the accuracies for the metrics log (`ema_top1`,
    `ema_top5` for the EMA); `best` is what a resumed run has to beat (`read_best`), None for a new run;
    `class_indexing` ({class name: label}) is written into the best-result files, so that the best weights
    come with their classes.
    """

    def __init__(self, net, evaluate_fn, interval, output_dir, logger, monitor=None, save=True, ema=None,
                 best=None, class_indexing=None):
        super().__init__()
        self.net = net
        self.evaluate_fn = evaluate_fn
        self.interval = interval
        self.output_dir = output_dir
        self.logger = logger
        self.monitor = monitor
        self.save = save
        self.ema = ema
        self.class_indexing = class_indexing
        # A resumed run starts from the best so far: only a better model replaces a best checkpoint.
        self.best = {kind: BestTracker(kind, *(best or {}).get(kind, ())) for kind in BEST_FILES}
        self.last_result = None
        self.last_ema_result = None

    @property
    def best_top1(self):
        """The raw weights' best top-1."""
        return self.best[RAW].top1

    @property
    def best_epoch(self):
        """The epoch of the raw weights' best top-1."""
        return self.best[RAW].epoch

    def on_train_epoch_end(self, run_context):
        if run_context.get_stop_requested():  # stopped mid-epoch (a signal): the epoch has not ended
            return
        params = run_context.original_args()
        epoch = params.cur_epoch_num
        if epoch % self.interval and epoch != params.epoch_num:
            return
        self.last_result = self.evaluate_and_keep(RAW, epoch)
        if self.ema is not None:
            with self.ema.applied():
                self.last_ema_result = self.evaluate_and_keep(EMA, epoch)
        self.net.set_train(True)

    def evaluate_and_keep(self, weights, epoch):
        """Evaluate the network as it stands (holding `weights`), log and record the accuracy, and save it
        when it is the best of its kind."""
        result = self.evaluate_fn()
        label = '' if weights == RAW else ' (EMA)'
        self.logger.info(f"epoch {epoch} validation{label}: top-1 {result.top1:.4%} top-5 {result.top5:.4%} "
                         f"({result.top1_correct}/{result.total})")
        if self.monitor is not None:
            prefix = '' if weights == RAW else f'{EMA}_'
            self.monitor.record.update({f'{prefix}top1': result.top1, f'{prefix}top5': result.top5})
            if weights == RAW:
                self.monitor.record['val_images'] = result.total
        if self.best[weights].improved_by(result, epoch) and self.save:
            self.save_best(weights, epoch, result)
        return result

    def save_best(self, weights, epoch, result):
        """Write the network (now holding `weights`) and its JSON (epoch, which weights, counts, accuracies),
        each to a temporary name first, so that an interrupted save leaves the previous best whole."""
        checkpoint, summary = BEST_FILES[weights]
        path = os.path.join(self.output_dir, checkpoint)
        save_atomically(self.net, path, append_dict={'epoch_num': epoch})
        result_path = os.path.join(self.output_dir, summary)
        with open(result_path + '.tmp', 'w', encoding='utf-8') as handle:
            json.dump(dict(epoch=epoch, checkpoint=path, weights=weights, **result.as_dict(),
                           **{BEST_CLASS_INDEXING_KEY: self.class_indexing}), handle, indent=2, ensure_ascii=False)
        os.replace(result_path + '.tmp', result_path)
        label = '' if weights == RAW else ' (EMA)'
        self.logger.info(f"new best top-1{label} {result.top1:.4%} at epoch {epoch}: saved {path}")


def read_best(output_dir):
    """{'raw'/'ema': (top-1, epoch)} of the best-result files in `output_dir` that exist and read back;
    {} when there is none."""
    best = {}
    for weights, (_, summary) in BEST_FILES.items():
        try:
            with open(os.path.join(output_dir, summary), encoding='utf-8') as handle:
                saved = json.load(handle)
            best[weights] = (float(saved['top1']), int(saved['epoch']))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return best


# The setting of evaluation during training (declared here, assembled by zoo_core.engine.settings).
EVAL_CALLBACK_SETTINGS = declare(
    __name__,
    Setting('eval_interval', 1, 'epochs between evaluations during training (0: none)', 'mindcv'),
)
