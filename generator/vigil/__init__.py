"""Vigil: one inventory of services, teams and channels -> a whole observability stack."""

__version__ = "0.1.0"
