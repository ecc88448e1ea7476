"""babysit.experiments."""
