"""The local stack and the ``snacks`` CLI. Local-only: product code never imports this package."""
