"""Settings for bench/bulk_cancel.py."""
