"""The REST API for companies, connections, their data and pull operations (Codat's Platform API shapes)."""
