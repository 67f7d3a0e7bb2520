"""Demo companies for `make run` (filled in by the Link flow work)."""


def seed_companies(stdout):
    """Create demo companies in every state; idempotent. Returns lines to print."""
    return []
