"""Block Kit for every surface, built with slack-sdk's models so their length checks run."""
