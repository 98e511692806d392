"""Cases: images in, answers out, clinicians' verdicts and the worklist."""
