"""The results table of evaluation: one CSV row per evaluated checkpoint, appended to `--results_file`.

The columns that timm's `validate.py --results-file` also writes carry its names and units (`model`,
`checkpoint`, `top1`/`top5` and their `_err` in percent, `param_count` in millions, `img_size`, `crop_pct`,
`interpolation`); `images` (how many were evaluated) and `infer_samples_per_sec` (timm's `benchmark.py`
name for inference throughput) are ours. Rows of several runs can be collected in one file, as with timm.
"""
import csv
import os

from zoo_core.runtime.errors import ZooError

RESULT_COLUMNS = ('model', 'checkpoint', 'top1', 'top1_err', 'top5', 'top5_err', 'param_count', 'img_size',
                  'crop_pct', 'interpolation', 'images', 'infer_samples_per_sec')
PERCENT = 100.0
ACCURACY_DIGITS = 4           # timm's rounding of top1/top5
PARAM_COUNT_UNIT = 1e6        # timm's param_count is in millions, 2 decimals
PARAM_COUNT_DIGITS = 2
THROUGHPUT_DIGITS = 2


class ResultsFileError(ZooError):
    """A results file that rows cannot be appended to."""


def result_row(net, checkpoint, accuracy, parameters, cfg):
    """The row of `accuracy` (an `Accuracy`) of network `net` with `parameters` learnable values, read from
    `checkpoint`, evaluated with `cfg`'s `image_size`, `crop_pct` and `interpolation`."""
    top1, top5 = round(accuracy.top1 * PERCENT, ACCURACY_DIGITS), round(accuracy.top5 * PERCENT, ACCURACY_DIGITS)
    return dict(model=net, checkpoint=checkpoint, top1=top1, top1_err=round(PERCENT - top1, ACCURACY_DIGITS),
                top5=top5, top5_err=round(PERCENT - top5, ACCURACY_DIGITS),
                param_count=round(parameters / PARAM_COUNT_UNIT, PARAM_COUNT_DIGITS), img_size=cfg.image_size,
                crop_pct=cfg.crop_pct, interpolation=cfg.interpolation, images=accuracy.total,
                infer_samples_per_sec=round(accuracy.images_per_second, THROUGHPUT_DIGITS))


def check_results_file(path):
    """True when the CSV file `path` holds rows already (with `RESULT_COLUMNS`), False when it is new or
    empty; a `ResultsFileError` for a file with other columns, which is never mixed into."""
    if not (os.path.isfile(path) and os.path.getsize(path) > 0):
        return False
    with open(path, newline='', encoding='utf-8') as handle:
        header = next(csv.reader(handle), [])
    if tuple(header) != RESULT_COLUMNS:
        raise ResultsFileError(f"{path} has the columns {', '.join(header)}, not those of this zoo's results "
                               f"table ({', '.join(RESULT_COLUMNS)}): name another --results_file")
    return True


def append_results(path, rows):
    """Append `rows` (dicts with `RESULT_COLUMNS`) to the CSV file `path` (see `check_results_file`),
    writing the header when the file is new or empty; returns `path`."""
    exists = check_results_file(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'a', newline='', encoding='utf-8') as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
        if not exists:
            writer.writeheader()
        writer.writerows(rows)
    return path
