"""Installs the pyimagesearch library and its `pyimagesearch` command."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements():
    lines = (HERE / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def read_version():
    text = (HERE / "pyimagesearch" / "__init__.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


setup(
    name="pyimagesearch",
    version=read_version(),
    description=(
        "The library of Deep Learning for Computer Vision with Python "
        "(Practitioner Bundle), rebuilt on Keras 3"
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["pyimagesearch", "pyimagesearch.*"]),
    install_requires=read_requirements(),
    extras_require={
        # jax runs the multi-backend test; without it that test skips
        "test": ["pytest>=8", "pytest-timeout>=2.3", "jax[cpu]>=0.4.30"],
        "jax": ["jax[cpu]>=0.4.30"],
        # the documentation site (mkdocs build --strict, tests/test_docs.py) and the
        # notebooks run by tests/test_notebooks.py; without them those tests skip
        "docs": ["mkdocs>=1.6,<2", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26",
                 "nbformat>=5.10", "nbclient>=0.10", "ipykernel>=6.29"],
        # Keras 2's ImageDataGenerator, the baseline of benchmarks/bench_augment.py;
        # albumentations for benchmarks/bench_pipeline.py: 2.0.8 needs albucore 0.0.24
        # exactly (pip's newest albucore breaks it), so both are pinned
        "bench": ["tf-keras>=2.21,<2.22", "albumentations==2.0.8", "albucore==0.0.24"],
    },
    entry_points={"console_scripts": ["pyimagesearch = pyimagesearch.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
