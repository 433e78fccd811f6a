"""The browser the report tests share: one headless Chromium for the whole session (tests/browser.py)."""
import pytest


@pytest.fixture(scope="session")
def browser():
    from tests.browser import Browser, chromium

    if chromium() is None:
        pytest.skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
    with Browser() as b:
        yield b

