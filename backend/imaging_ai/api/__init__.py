"""HTTP layer: thin routes over the services, one error envelope, request middleware."""
