"""Frame sources: each is a context manager yielding ``livematte.types.Frame`` (see ``Source``)."""
