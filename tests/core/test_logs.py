import logging

from sync_core.logs import ScrubbingFormatter


def test_secrets_are_scrubbed_from_messages_and_tracebacks():
    formatter = ScrubbingFormatter(["xoxb-secret-token", "enerpize-key-123"])
    try:
        raise RuntimeError("request with apikey enerpize-key-123 failed")
    except RuntimeError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "token %s", ("xoxb-secret-token",), sys.exc_info())
    text = formatter.format(record)
    assert "xoxb-secret-token" not in text and "enerpize-key-123" not in text
    assert "token ***" in text and "apikey ***" in text
