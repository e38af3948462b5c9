"""The ImageNet class names ship inside the built package (pyproject's package-data)."""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLASS_INDEX = "keras_minimal/applications/imagenet_class_index.json"

pytestmark = pytest.mark.slow


def _installed_setuptools_builds_it():
    """Whether the setuptools installed here meets pyproject's build requirement (then the
    wheel builds offline; otherwise pip fetches a build environment)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = int(re.search(r'requires = \["setuptools>=(\d+)"\]', pyproject).group(1))
    try:
        return int(metadata.version("setuptools").split(".")[0]) >= minimum
    except metadata.PackageNotFoundError:
        return False


def test_the_wheel_holds_the_imagenet_class_index(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    shutil.copytree(ROOT / "keras_minimal", source / "keras_minimal")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    isolation = ["--no-build-isolation"] if _installed_setuptools_builds_it() else []
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", "dist", "."],
        cwd=source,
        check=True,
        timeout=300,
        env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    (wheel,) = (source / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(CLASS_INDEX) == (ROOT / CLASS_INDEX).read_bytes()
