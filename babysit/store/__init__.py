"""babysit.store."""
