"""The Slack surface of salla-sync: `/salla-sync`, its modal, the run thread and the App Home."""
