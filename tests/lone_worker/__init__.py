"""Lone-worker support: check-in, check-out and the alarm, against real servers."""
