"""The driver's checks fail when they should: a page with errors and a network request is caught
(port 9 on localhost refuses at once, so the load never waits on a network)."""


def test_driver_sees_console_errors_exceptions_and_requests(browser, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><p>x</p><img src=\"http://127.0.0.1:9/pixel.png\">"
                    "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    loaded = browser.load(page.as_uri())
    assert any("boom" in e for e in loaded.errors)
    assert any("undefinedFunction" in e for e in loaded.errors)
    assert "http://127.0.0.1:9/pixel.png" in loaded.requests
