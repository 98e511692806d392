"""Persistence: the database schema (typed SQLAlchemy mappings), sessions and repositories."""
