"""A Clear Books SOAP sandbox: a real WSGI server speaking the documented protocol.

Work in progress: the WSDL (wsdl.py) is final; the server, books and fixture follow.
"""
