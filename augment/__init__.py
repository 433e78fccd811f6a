"""tinyaug: TinyBERT-style augmentation for extractive QA with char-exact answer spans.

    >>> from augment import Augmenter, augment_example
    >>> aug = Augmenter(mlm=None, glove="default", seed=0)     # GloVe only, fully offline
    >>> rows = augment_example(example, n=20, augmenter=aug)    # doctest: +SKIP
"""
from augment.errors import ConfigError, InputError, InvalidExample

__version__ = "0.2.5"
__all__ = ["Augmenter", "augment_example", "ConfigError", "InputError", "InvalidExample", "__version__"]


def __getattr__(name):
    # Heavy imports (torch, transformers, gensim) only when the API is used, not on `import augment`.
    if name in ("Augmenter", "augment_example"):
        from augment import api

        return getattr(api, name)
    raise AttributeError(f"module 'augment' has no attribute {name!r}")
