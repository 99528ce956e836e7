"""The background worker: runs the outbox's jobs (referrals now; retries, escalations, alarms next).

A door on the core like the others: ``python -m worker`` builds the core's runtime and works
through :class:`ooh.jobs.Jobs`. ``make run`` starts one; more can run beside it on the same
database, and a killed one's jobs are taken over when its leases run out.
"""
