"""The browser the report tests share: one headless Chromium for the whole session (tests/browser.py)."""
import pytest


@pytest.fixture(scope="session")
def browser():
    from tests.browser import Browser, chromium

    if chromium() is None:
        pytest.skip("chromium is not installed (.ci/run installs it: apt-get install chromium)")
    with Browser() as b:
        yield b


def load_page(browser, path):
    """Load ``path``; assert no console error and no request beyond the file itself."""
    loaded = browser.load(path.resolve().as_uri())
    assert loaded.errors == []
    assert loaded.requests == [path.resolve().as_uri()]
    return loaded
