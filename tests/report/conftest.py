"""The browser the report tests share: one headless Chromium for this package's tests (tests/browser.py),
closed when they are done."""
import pytest


@pytest.fixture(scope="package")
def browser():
    from tests.browser import Browser, chromium

    if chromium() is None:
        pytest.skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
    with Browser() as b:
        yield b

