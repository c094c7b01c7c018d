"""Workflow Builder steps: send a nudge, enroll people (see service.py)."""
