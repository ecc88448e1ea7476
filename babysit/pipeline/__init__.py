"""babysit.pipeline."""
