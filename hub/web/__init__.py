"""What every HTTP surface of the hub shares (TAXII, admin API): request dependencies."""
