"""Create, track and cleanly end Flinks Pay sessions from Django."""

__version__ = "0.1.0"
