"""The staff web app: sign-in with password and TOTP, and an organisation's own service requests.

A door on the core: every decision (who may sign in, what they may see, what is audited) is made by
:mod:`ooh.accounts`; this package turns forms and cookies into calls there and renders GOV.UK
Design System pages (``govuk-frontend`` with ``govuk-frontend-jinja``).
"""
