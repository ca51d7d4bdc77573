"""Honest student answers (several correct variants per assignment) for the fairness audit of the visible checks."""
