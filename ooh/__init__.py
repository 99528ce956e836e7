"""The out-of-hours service's core: organisation data, scripts, addresses, safeguarding, records, referrals.

Nothing here imports Rasa, a web framework or any of the doors that use it (``actions/`` for Rasa's
action server, ``voice_gateway/`` for calls, ``bot/`` for the NLU pipeline); they import the core.
``tests/test_architecture.py`` fails on an import that goes the wrong way.
"""
