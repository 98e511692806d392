"""The domain: ingestion (and, in later work, inference, feedback, training, promotion, trust)."""
