"""tinyaug: TinyBERT-style augmentation for extractive QA with char-exact answer spans."""
from augment.errors import ConfigError, InputError, InvalidExample

__version__ = "0.1.0"
__all__ = ["ConfigError", "InputError", "InvalidExample", "__version__"]
