"""Alembic's environment for the records database: run on the connection the store hands over.

The store runs migrations itself (:meth:`ooh.records.store.RecordStore.migrate`), on its own
engine, so there is no ``alembic.ini`` with a second copy of the database URL: the URL comes from
``OOH_DATABASE_URL`` through the store, the same way for every process.
"""

from __future__ import annotations

from alembic import context

from ooh.accounts import models as _accounts  # noqa: F401 - its tables share the metadata
from ooh.records.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
