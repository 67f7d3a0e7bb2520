"""What support staff see: per-data-type health, the diagnosis sentence, the dashboard's queries."""
