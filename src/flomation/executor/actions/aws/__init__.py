"""AWS actions (boto3, imported only when an AWS action runs)."""

__all__: list[str] = []
