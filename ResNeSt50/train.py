"""Train a ResNeSt: `python train.py [--config f.yaml] [--key value ...]` (keys: src/config.py).

With no --data_dir, trains on the built-in demo dataset. Launchers: scripts/run_*.sh.
"""
import sys

from zoo_core.engine.train import main
from zoo_resnest.family import FAMILY

if __name__ == '__main__':
    sys.exit(main(FAMILY))
