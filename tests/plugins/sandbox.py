"""pytest fixtures: sandbox (filled by the issue that builds it)."""
