"""Salla Merchant API v2: the models the sync reads and the HTTP client that reads them."""
