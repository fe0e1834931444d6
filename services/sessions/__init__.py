"""Session service: transaction, meter and station events -> OCPI charging sessions (faust)."""
