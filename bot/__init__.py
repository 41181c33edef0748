"""Answering: webhook events, rules, and the one delivery layer."""
