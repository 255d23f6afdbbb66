"""The benchmark: how close salla-sync runs to the floors set by Salla's rate limit, API latency
and Slack's 3-second acknowledgement window. ``python -m bench`` (see README "Performance")."""
