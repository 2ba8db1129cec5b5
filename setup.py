"""The package list, which pyproject.toml cannot express alone.

The shipped folders ``cuda/`` (kernel sources), ``configs/`` (YAML) and ``assets/`` (robots,
sample capture, checkpoint) stay at the top of the checkout, yet must reach a wheel. They
are mapped to ``pointwm/_files/<folder>`` in the installed package (``package_dir``), with
their files as package data (pyproject.toml's ``[tool.setuptools.package-data]``); the
layout under ``_files/`` is the checkout's, so relative paths in the YAML files still hold.
``pointwm.paths`` is the one place that resolves them. ``cuda/`` is never importable as a
top-level ``cuda`` (that would shadow NVIDIA's namespace): it exists only as
``pointwm._files.cuda`` in the wheel.

pyproject.toml's ``packages.find`` and a ``packages`` list exclude each other, so the
discovery of the code packages lives here next to the mapped folders.
"""

from setuptools import find_namespace_packages, setup

SHIPPED = ("cuda", "configs", "assets")  # top-level folders -> pointwm._files.<folder>

setup(
    packages=find_namespace_packages(include=["pointwm*", "capture*", "kinematics*", "planning*"])
    + [f"pointwm._files.{name}" for name in SHIPPED],
    package_dir={f"pointwm._files.{name}": name for name in SHIPPED},
)
