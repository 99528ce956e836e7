"""Staff accounts: who may sign in, to which organisations, in which role, and what they looked at.

The staff web app, the voice gateway's call logs and recordings, and the call handlers' console all
ask this package, so "may this person see this organisation's data?" has one answer. It has no web
framework: the doors turn cookies and forms into calls here.
"""
