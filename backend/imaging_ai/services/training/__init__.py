"""Learning from verdicts: training jobs and the worker, the gate, promotion and rollback, version cards."""
