"""Nudgebot."""
