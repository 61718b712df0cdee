"""Lead-scoring helpers for the `ml` assets: training per organization, batch scoring and write-back."""
