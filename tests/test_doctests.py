"""The ``>>>`` examples in the docstrings of augment/ and pipelines/ run as written.

STYLE.md asks public functions for a usage example; an example nobody runs drifts from the code (a quote
style the function no longer returns, a name an earlier skipped line was to define). An example that needs a
model, the hub or a file the suite does not have is marked ``# doctest: +SKIP``, every line of it."""
import doctest
import importlib
import io
import pkgutil

import pytest

import augment
import pipelines


def _modules() -> list[str]:
    names = []
    for package in (augment, pipelines):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return sorted(names)


MODULES = _modules()


def test_every_module_is_found():
    # walk_packages skips a folder it cannot import as a package silently: check it saw the nested ones
    assert {"augment.outdir", "augment.distill.flops", "pipelines.cli"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    # ELLIPSIS as under pytest --doctest-modules, so the examples pass there too
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {name}:\n{report.getvalue()}"
