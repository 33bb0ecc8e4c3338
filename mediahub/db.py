"""Database plumbing that Django leaves to the project: connection pools across os.fork()."""

import os

from django.db import OperationalError
from django.db.backends.postgresql.base import DatabaseWrapper
from psycopg_pool import PoolTimeout


def forget_inherited_pools() -> None:
    """In a forked child (django-q2 forks its workers), the parent's pooled connections share their sockets with
    the parent and the pool's threads did not survive the fork: the child opens a pool of its own on first use.
    The inherited connections are dropped, not closed (psycopg closes a connection only in the process that
    opened it), so the parent's sessions go on undisturbed."""
    DatabaseWrapper._connection_pools.clear()


def register_fork_hook() -> None:
    os.register_at_fork(after_in_child=forget_inherited_pools)


def pool_exhausted(exc: BaseException) -> bool:
    """Whether `exc` is Django's error for a request that waited MEDIAHUB_DB_POOL_TIMEOUT for a connection."""
    return isinstance(exc, OperationalError) and isinstance(exc.__cause__, PoolTimeout)
