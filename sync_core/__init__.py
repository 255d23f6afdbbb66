"""salla-sync core: Salla orders into Enerpize invoices and returns, exactly once.

No Slack in here: the bot and the CLI are thin front ends over this package.
"""
