"""The oldest transformers tinyaug works with, checked before it is used.

An older transformers fails deep inside a run, with a message that does not name it. Measured with the tests of
the code that uses transformers: on 4.45.2, 4.50.3 and 4.53.3 the intermediate stage of distill-train stops on a
traceback (an AttributeError: no ``_can_set_attn_implementation``; before 4.53, ``attention_capture.register()``
raises an ImportError for ``AttentionInterface``); on 4.57.6 it says the BERT student "does not route attention
through AttentionInterface" (BERT there still picks one attention class per implementation), and the masked LM
and distill-train's training step stop on ``ValueError: Wrong shape for input_ids ... or attention_mask`` (their
4-D masks). 5.0.0 to 5.5.4 train, but save a student that was loaded from a checkpoint with BERT's LayerNorm
parameters under their legacy names (``gamma``/``beta``, not ``weight``/``bias``), so the saved file's keys
differ from the initial student's; 5.6.0 is the first release on which those tests all pass.

    >>> require_transformers()  # doctest: +SKIP
"""
from __future__ import annotations

from augment.errors import DependencyError

MIN_TRANSFORMERS = "5.6.0"  # also setup.cfg's install_requires


def transformers_problem(installed: str) -> str | None:
    """Why transformers ``installed`` (a version string) cannot serve tinyaug, or None if it can."""
    from packaging.version import InvalidVersion, Version

    try:
        # Only the release part is compared: a pre-release or development build of the minimum (5.6.0rc1,
        # 5.6.0.dev0) counts as the minimum.
        too_old = Version(installed).release < Version(MIN_TRANSFORMERS).release
    except InvalidVersion:
        return None  # a local build with a version packaging cannot read: let it try
    if too_old:
        return (f"transformers {installed} is installed, but tinyaug needs transformers>={MIN_TRANSFORMERS}; "
                f"upgrade it: pip install 'transformers>={MIN_TRANSFORMERS}'")
    return None


def require_transformers() -> None:
    """Raise :class:`DependencyError` if the transformers that Python imports is older than tinyaug needs."""
    import transformers

    if problem := transformers_problem(transformers.__version__):
        raise DependencyError(problem)
