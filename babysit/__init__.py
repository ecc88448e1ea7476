"""babysit: the lecture "Training Neural Networks, Part I" as software."""

__version__ = "0.1.0"
