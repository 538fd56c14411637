"""Top-1/top-5 accuracy of offline inference results (Ascend 310 or `export.py --run_mindir`).

    python postprocess.py --result_path result_Files --label_path imagenet_label.json
"""
from zoo_core.deploy.postprocess import main

if __name__ == '__main__':
    main()
