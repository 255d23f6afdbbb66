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


def test_json_lines_carry_the_context_and_no_secret():
    import json

    from sync_core.logs import ContextFilter, JsonFormatter, logging_context

    formatter, context = JsonFormatter(["enerpize-key-123"]), ContextFilter()
    with logging_context(run_id=7, number="1001", source="slack"):
        record = logging.LogRecord("sync_core.x", logging.WARNING, __file__, 1, 'key "%s" refused', ("enerpize-key-123",),
                                   None)
        context.filter(record)
    line = json.loads(formatter.format(record))
    assert line["level"] == "WARNING" and line["logger"] == "sync_core.x"
    assert (line["run_id"], line["number"], line["source"]) == (7, "1001", "slack")
    assert line["message"] == 'key "***" refused'
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", (), None)
    context.filter(outside)
    assert "run_id" not in json.loads(formatter.format(outside))


async def test_a_line_logged_while_a_number_syncs_says_which(salla, enerpize, service):
    """A lost create answer is logged as a warning: in JSON, with the run, the number and the source."""
    import io
    import json

    from sandbox import INVOICES
    from sync_core.logs import ContextFilter, JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter([]))
    handler.addFilter(ContextFilter())
    logging.getLogger().addHandler(handler)
    try:
        enerpize.lose_next_create(kind=INVOICES, mode="drop")
        run_id, _ = await service.sync(["1001"], requested_by="U1", source="cli")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    lost = [line for line in lines if "answer lost" in line["message"]]
    assert lost and all((line["run_id"], line["number"], line["source"]) == (run_id, "1001", "cli") for line in lost)


def test_text_lines_carry_the_context_too():
    from sync_core.logs import TEXT_FORMAT, ContextFilter, ScrubbingFormatter, logging_context

    formatter, context = ScrubbingFormatter([], TEXT_FORMAT), ContextFilter()
    with logging_context(run_id=7, number="1001", source="cli"):
        record = logging.LogRecord("sync_core.x", logging.WARNING, __file__, 1, "slow", (), None)
        context.filter(record)
    assert formatter.format(record).endswith("WARNING sync_core.x [run_id=7 number=1001 source=cli]: slow")
