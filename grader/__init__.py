"""Auto-grader for the RNN exercises: `python -m grader --help`; in a notebook, `from grader import check`."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def check(*exercises: str, **options: Any) -> Any:
    """Grade from a notebook: check("ex3"), or check() for every exercise; see grader.notebook.check."""
    from grader.notebook import check as grade

    return grade(*exercises, **options)
