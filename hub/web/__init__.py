"""What every HTTP surface of the hub shares (TAXII, admin API, console, lookups): request dependencies."""
