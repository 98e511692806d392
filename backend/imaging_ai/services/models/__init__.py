"""Model versions: the catalogue of stored versions and which one serves each site, at which threshold."""
