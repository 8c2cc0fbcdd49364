"""``snacks console``: a local web console for orders, their workflow executions and the DLQ."""
