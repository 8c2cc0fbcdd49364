"""Lambda entry points. Each handler only adapts the event, calls the domain and shapes the reply."""
