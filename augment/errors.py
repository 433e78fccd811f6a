"""The project's exceptions: all are ``ValueError``s that name the bad value."""


class InvalidExample(ValueError):
    """A ``squad_v2`` row that cannot be augmented as it is; the message names its id and the problem.

    ``reason`` is a short machine-readable tag (``answer_mismatch``, ``offset_out_of_range``,
    ``empty_context``, ``empty_question``, ``bad_type``, ``bad_text``, ``missing_id``, ``duplicate_id``,
    ``missing_answers``, ``is_impossible_mismatch``) used to count rejects.
    """

    def __init__(self, example_id, message: str, reason: str = "invalid"):
        self.example_id = example_id
        self.reason = reason
        super().__init__(f"example {example_id!r}: {message}")


class InputError(ValueError):
    """An input file or dataset that cannot be read at all (missing, truncated, wrong schema)."""


class SourceProblems(InputError):
    """Several data sources that cannot be read, one line each in ``problems``; the message joins them with "; ".
    Kept apart for a caller that reads one source for several options, to name it once (augment.distill.paths).

        >>> str(SourceProblems(["a.json: invalid JSON", "b: no such file or directory"]))
        'a.json: invalid JSON; b: no such file or directory'
    """

    def __init__(self, problems):
        # A str: the message alone, as unpickling passes it (its problems come back with the instance's state).
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class NaNLogits(ValueError):
    """A model's start or end logits hold NaN where an answer is read (a diverged model, a float16 overflow):
    scores computed from them would mean nothing. ``example_ids``: the questions affected, the first named."""

    def __init__(self, example_ids: list, message: str):
        self.example_ids = list(example_ids)
        super().__init__(message)


class ConfigError(ValueError):
    """An option value or a combination of options that cannot work."""


class DependencyError(ConfigError):
    """An installed package older than tinyaug needs (:mod:`augment.versions`); the message names both versions.
    A ConfigError, so each command reports it as its one error line, exit code 2, before any work starts."""
