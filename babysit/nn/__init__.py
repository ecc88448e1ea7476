"""babysit.nn."""
