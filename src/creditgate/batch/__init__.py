"""Batch decisions for a whole user base: validation, decisions, whitelist snapshot."""
