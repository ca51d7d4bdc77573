"""gdlib: the numpy library behind the course *Gradient Descent for Neural Networks*."""

__version__ = "0.1.0"
