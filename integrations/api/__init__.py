"""The REST API for integrations (Codat's Platform API shapes): list, get, portal sync settings."""
