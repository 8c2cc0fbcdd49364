"""The CDK app's stacks and constructs. ``stacks.definitions`` is importable without CDK."""
