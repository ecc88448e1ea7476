"""babysit.data."""
