"""The REST API's shared parts: API keys, authentication, Codat's error body, paging and query.

The resources themselves live beside what they expose (`integrations/api/`,
`connections/api/`, as NetBox does); this package imports no app, so both can use it.
"""
