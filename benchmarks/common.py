"""Where benchmark results go, with the machine and versions they were measured on."""

import json
import os

from keras_minimal.deploy.benchmarking import describe_environment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def write_results(name, results, directory=RESULTS):
    """Write <directory>/<name>.json (atomically) and return its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"environment": describe_environment(), "results": results}, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return path
