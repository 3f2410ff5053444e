"""Settings and URLs for bench/webhooks_djstripe.py: bench/webhooks.py's site with dj-stripe installed beside it."""
