"""babysit.train."""
