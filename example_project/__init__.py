"""A small shop that uses flinks-sessions exactly as a site would (``make demo`` runs it)."""
