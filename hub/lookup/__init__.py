"""Member lookups over what a member may read: search by value, one object's page, device downloads."""
