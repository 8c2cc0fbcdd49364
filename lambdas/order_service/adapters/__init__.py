"""Small adapters between the domain ports and AWS services."""
