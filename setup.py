"""Packaging: everything is in setup.cfg except the package list, which maps the top-level controllers/
folder to the mecsim.controllers package (setup.cfg's find: cannot add a mapped package)."""
from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["mecsim", "mecsim.*"]), "mecsim.controllers"],
      package_dir={"mecsim.controllers": "controllers"})
