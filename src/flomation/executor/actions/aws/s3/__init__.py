"""``aws/s3/*``: Amazon S3 object and bucket actions."""

__all__: list[str] = []
