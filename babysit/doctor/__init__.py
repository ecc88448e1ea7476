"""babysit.doctor."""
