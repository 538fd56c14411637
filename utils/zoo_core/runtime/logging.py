"""Rank-aware logging: rank 0 prints to the console, every rank writes its own file in the output folder."""
import logging
import os
import sys

LOGGER_NAME = 'zoo_core'
LOG_FORMAT = '%(asctime)s [rank %(rank)s] %(levelname)s %(message)s'
DATE_FORMAT = '%Y-%m-%d %H:%M:%S'


class _RankFilter(logging.Filter):
    def __init__(self, rank):
        super().__init__()
        self.rank = rank

    def filter(self, record):
        record.rank = self.rank
        return True


def get_logger(output_dir=None, rank=0):
    """The zoo's logger, configured for `rank`: console on rank 0, `output_dir/log_rank<r>.txt` on every rank.

    Calling it again replaces the handlers (a new run in the same process).
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(LOG_FORMAT, DATE_FORMAT)
    handlers = []
    if rank == 0:
        handlers.append(logging.StreamHandler(sys.stdout))
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(output_dir, f'log_rank{rank}.txt'), encoding='utf-8'))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_RankFilter(rank))
        logger.addHandler(handler)
    return logger
