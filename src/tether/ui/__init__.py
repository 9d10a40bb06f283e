"""The web UI: server-rendered Jinja2 pages with a little htmx and plain JavaScript (no build step)."""
