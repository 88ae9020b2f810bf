"""What the profile step learns of a source table: column types (detect), identifying columns (pii),
key and id formats (keys), foreign keys (relations) and the seeded holdout split."""
