"""pytest fixtures: worker (filled by the issue that builds it)."""
