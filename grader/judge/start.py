"""Start the judge: pytest over the hidden suites, with the judge's plugin, in an isolated interpreter.

Usage (by the grader): python -I start.py PYTEST_ARGS...

`-I` keeps the environment's PYTHON* variables, the user's site folder and the
current folder out of the import path, so nothing a learner could leave there is
imported. The grader's folder is put on the path here instead, and the folders that
hold the grader's dependencies (given by the grader in GRADER_SITE_PATHS, for
installs outside the interpreter's own site-packages) are appended.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])


def main(argv: list[str]) -> int:
    sys.path.insert(0, ROOT)
    for folder in filter(None, os.environ.get("GRADER_SITE_PATHS", "").split(os.pathsep)):
        if folder not in sys.path:
            sys.path.append(folder)
    import pytest

    _skip_entry_point_lookup()
    return int(pytest.main(argv))


def _skip_entry_point_lookup() -> None:
    """Before importing the module a `-p NAME` names, pytest looks for an installed package's entry point called
    NAME, reading the metadata of every installed distribution (2 ms for each -p here, more in a large environment).
    The judge's plugins are modules named by their module paths, and no installed plugin is wanted
    (PYTEST_DISABLE_PLUGIN_AUTOLOAD): the judge imports the modules it names, never a same-named entry point,
    and skips that lookup."""
    from _pytest.config import PytestPluginManager

    PytestPluginManager.load_setuptools_entrypoints = lambda self, *args, **kwargs: 0  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
