"""pytest fixtures: browser (filled by the issue that builds it)."""
