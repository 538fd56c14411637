"""Converting an ImageFolder tree into MindRecord shards (`utils/to_mindrecord.py`), resumably.

Each split (`train/`, `val/`) is checked as training checks it (`index_split`: a bad file is named and
left out), labelled with the training split's classes, and cut into N shards, image i going to shard
i mod N. The conversion is planned first: the plan (source, shard count, classes, the images of each
split) is written to `OUT/.mindrecord_plan.json`. Then worker processes write the shards, one at a
time each, into `OUT/.partial/` and move each one into its split's folder when it is complete (a shard
file in `OUT/<split>/` is always a finished one). The catalog `OUT/mindrecord.json` is written last: a
folder without it is an unfinished conversion, which the same command resumes, writing only the shards
that are missing.
"""
import json
import multiprocessing
import os
import shutil
import sys
import time

from zoo_core.data.dataset import class_indexing
from zoo_core.data.index import DatasetError, index_split
from zoo_core.data.mindrecord import (CATALOG_FORMAT, CATALOG_VERSION, SCHEMA, catalog_path, is_mindrecord_folder,
                                      shard_name)

SPLITS = ('train', 'val')
PLAN_NAME = '.mindrecord_plan.json'
STAGING_DIR = '.partial'
# Records handed to FileWriter.write_raw_data at a time: bounds a worker's memory (256 ImageNet JPEGs ~ 30 MB).
WRITE_BATCH = 256
PROGRESS_INTERVAL_SECONDS = 5.0
SCHEMA_DESCRIPTION = 'ImageFolder images: encoded file bytes, label, path relative to the split'

_progress = None  # images written, shared by the worker processes (set by `_init_worker`)


def write_json_atomically(path, document):
    """Write `document` to `path` through a temporary file and a rename."""
    staging = f'{path}.{os.getpid()}.tmp'
    with open(staging, 'w', encoding='utf-8') as handle:
        json.dump(document, handle)
    os.replace(staging, path)


def plan_conversion(data_dir, shards):
    """The plan of a conversion of `data_dir` into `shards` shards per split: source, classes, and per split
    its images ([relative path, label]) and its bad files."""
    classes = list(class_indexing(data_dir))
    labels = {name: label for label, name in enumerate(classes)}
    splits = {}
    for split in SPLITS:
        split_dir = os.path.join(data_dir, split)
        if not os.path.isdir(split_dir):
            continue
        index = index_split(split_dir, classes)
        if len(index.samples) < shards:
            raise DatasetError(f"{split_dir} has {len(index.samples)} usable images, fewer than --shards {shards}")
        splits[split] = dict(samples=[[os.path.relpath(path, split_dir), labels[name]] for path, name in index.samples],
                             bad_files=index.as_json())
    if not splits:
        raise DatasetError(f"{data_dir} has neither train/ nor val/ (expected <data_dir>/<split>/<class>/<image>)")
    return dict(source=os.path.abspath(data_dir), shards=shards, classes=classes, splits=splits)


def shard_tasks(plan, out_dir):
    """(split, shard, records) of every shard of the plan whose file is not in `out_dir` yet."""
    tasks = []
    for split, entry in plan['splits'].items():
        for shard in range(plan['shards']):
            if not shard_done(out_dir, split, shard, plan['shards']):
                tasks.append((split, shard, entry['samples'][shard::plan['shards']]))
    return tasks


def shard_done(out_dir, split, shard, shards):
    """True when the shard's file and its index are in place (they are moved there once complete)."""
    final = os.path.join(out_dir, split, shard_name(split, shard, shards))
    return os.path.isfile(final) and os.path.isfile(final + '.db')


def _init_worker(progress):
    global _progress  # pylint: disable=global-statement  # one counter per worker process
    _progress = progress


def write_shard(source, out_dir, shards, task):
    """Write one shard (`task`: split, shard, records) into the staging folder, then move it into place."""
    from mindspore.mindrecord import FileWriter  # in the worker: the parent process never needs it

    split, shard, records = task
    name = shard_name(split, shard, shards)
    staging = os.path.join(out_dir, STAGING_DIR, name)
    writer = FileWriter(staging, shard_num=1, overwrite=True)
    writer.add_schema(SCHEMA, SCHEMA_DESCRIPTION)
    for start in range(0, len(records), WRITE_BATCH):
        batch = []
        for relative, label in records[start:start + WRITE_BATCH]:
            with open(os.path.join(source, split, relative), 'rb') as handle:
                batch.append(dict(image=handle.read(), label=label, file=relative))
        writer.write_raw_data(batch)
        if _progress is not None:
            with _progress.get_lock():
                _progress.value += len(batch)
    writer.commit()
    # The index first: a shard counts as written once its .mindrecord file is in place beside its .db.
    final_dir = os.path.join(out_dir, split)
    os.replace(staging + '.db', os.path.join(final_dir, name + '.db'))
    os.replace(staging, os.path.join(final_dir, name))
    return len(records)


def _write_shard_task(arguments):
    return write_shard(*arguments)


def load_or_write_plan(data_dir, out_dir, shards, log):
    """The plan of an unfinished conversion in `out_dir` (which must be of the same source and shard count),
    or a new one, written there."""
    path = os.path.join(out_dir, PLAN_NAME)
    source = os.path.abspath(data_dir)
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as handle:
            plan = json.load(handle)
        if (plan['source'], plan['shards']) != (source, shards):
            raise DatasetError(f"{out_dir} holds an unfinished conversion of {plan['source']} into {plan['shards']} "
                               f"shards: run that command again to resume it, or remove {out_dir}")
        log(f"resuming the conversion of {source} into {out_dir}")
        return plan
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise DatasetError(f"{out_dir} exists and is not empty: give a new folder")
    log(f"checking the images of {source}")
    plan = plan_conversion(data_dir, shards)
    os.makedirs(out_dir, exist_ok=True)
    write_json_atomically(path, plan)
    return plan


def report_progress(log, done, total, shards_done, shards_total, started):
    """One progress line: images and shards written, speed and time left."""
    elapsed = max(time.monotonic() - started, 1e-9)
    speed = done / elapsed
    left = (total - done) / speed if speed > 0 else float('inf')
    eta = f'{left:.0f} s left' if left != float('inf') else 'starting'
    log(f"{done}/{total} images ({done / max(total, 1):.1%}), {shards_done}/{shards_total} shards, "
        f"{speed:.0f} img/s, {eta}")


def run_tasks(plan, out_dir, tasks, workers, log):
    """Write the shards of `tasks` with `workers` processes, logging progress."""
    total = sum(len(records) for _, _, records in tasks)
    context = multiprocessing.get_context('spawn')  # MindSpore's threads do not survive a fork
    progress = context.Value('q', 0)
    started, last_report, shards_done = time.monotonic(), time.monotonic(), 0
    arguments = [(plan['source'], out_dir, plan['shards'], task) for task in tasks]
    with context.Pool(min(workers, len(tasks)), initializer=_init_worker, initargs=(progress,)) as pool:
        pending = pool.imap_unordered(_write_shard_task, arguments)
        while shards_done < len(tasks):
            try:
                pending.next(timeout=PROGRESS_INTERVAL_SECONDS)
                shards_done += 1
            except multiprocessing.TimeoutError:
                pass
            if time.monotonic() - last_report >= PROGRESS_INTERVAL_SECONDS or shards_done == len(tasks):
                report_progress(log, progress.value, total, shards_done=shards_done, shards_total=len(tasks),
                                started=started)
                last_report = time.monotonic()


def convert(data_dir, out_dir, shards, workers, log=None):
    """Convert the ImageFolder tree `data_dir` into `shards` MindRecord shards per split in `out_dir`,
    with `workers` processes, resuming an unfinished conversion there; returns the catalog."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    if shards < 1 or workers < 1:
        raise DatasetError(f"--shards and --workers must be at least 1, got {shards} and {workers}")
    if not os.path.isdir(data_dir):
        raise DatasetError(f"dataset folder not found: {data_dir}")
    if is_mindrecord_folder(out_dir):
        raise DatasetError(f"{out_dir} already holds a finished conversion ({catalog_path(out_dir)})")
    plan = load_or_write_plan(data_dir, out_dir, shards, log)
    shutil.rmtree(os.path.join(out_dir, STAGING_DIR), ignore_errors=True)  # shards of an interrupted run
    os.makedirs(os.path.join(out_dir, STAGING_DIR))
    for split in plan['splits']:
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    tasks = shard_tasks(plan, out_dir)
    every = shards * len(plan['splits'])
    if every - len(tasks):
        log(f"{every - len(tasks)} of {every} shards already written; writing the other {len(tasks)}")
    if tasks:
        run_tasks(plan, out_dir, tasks, workers=workers, log=log)
    catalog = dict(format=CATALOG_FORMAT, version=CATALOG_VERSION, source=plan['source'], classes=plan['classes'],
                   splits={split: dict(images=len(entry['samples']), bad_files=entry['bad_files'],
                                       files=[os.path.join(split, shard_name(split, shard, shards))
                                              for shard in range(shards)])
                           for split, entry in plan['splits'].items()})
    write_json_atomically(catalog_path(out_dir), catalog)
    os.remove(os.path.join(out_dir, PLAN_NAME))
    shutil.rmtree(os.path.join(out_dir, STAGING_DIR), ignore_errors=True)
    counts = ', '.join(f"{split} {entry['images']} images" for split, entry in catalog['splits'].items())
    log(f"done: {counts}, {len(catalog['classes'])} classes, {shards} shards per split in {out_dir}")
    return catalog
