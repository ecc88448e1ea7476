"""babysit.search."""
