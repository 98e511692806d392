"""File storage: the content-addressed image store."""
