"""Recovery from delivery failures: re-indexing the S3 backup and removing duplicate documents."""
