"""Rasa SDK actions: thin wrappers over the script engine, records and referrals."""
