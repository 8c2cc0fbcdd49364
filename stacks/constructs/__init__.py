"""The pipeline's building blocks: storage, events, functions, workflow, monitoring."""
