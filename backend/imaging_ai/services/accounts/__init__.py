"""People and systems: identities and permissions, sign-in, users and API keys, password hashing."""
