"""babysit.cli."""
