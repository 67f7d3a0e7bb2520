"""What support staff see, worked out for the pages: per-data-type health, the diagnosis sentences,
what needs attention, the dashboard's figures and chart, and each page's panels."""
