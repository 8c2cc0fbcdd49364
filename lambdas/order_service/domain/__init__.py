"""Order rules: validation, lifecycle, fulfillment. Nothing in here imports boto3."""
