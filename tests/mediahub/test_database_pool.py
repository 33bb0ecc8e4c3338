"""PostgreSQL connections come from a bounded pool: a request that finds none free in time is a 503 in the
contract's shape, and connections broken under the pool (a PostgreSQL restart) are replaced, not handed out."""

import os
import threading

import psycopg
import pytest
from django.db import OperationalError, connection
from psycopg_pool import PoolTimeout
from rest_framework.test import APIClient

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's")


def in_own_thread(call):
    """Run `call` in a thread of its own, as the web server runs each request: it takes its own connection."""
    outcome = []

    def run():
        try:
            outcome.append(call())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return outcome[0]


def get_jobs(raw_key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    return client.get("/api/v1/jobs")


def assert_busy(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "database_busy"
    assert set(response.json()) == {"error"}


def test_a_pool_timeout_is_a_503_with_retry_after(alice, monkeypatch):
    def exhausted(*args, **kwargs):
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc  # as Django wraps the driver's errors

    monkeypatch.setattr("jobs.api.jobs_for", exhausted)

    assert_busy(get_jobs(alice[1]))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_request_that_finds_no_free_connection_gets_503(alice, bob):
    pool = connection.pool
    connection.close()  # this thread's connection goes back to the pool, to be held below
    held, timeout = [], pool.timeout
    try:
        while True:
            try:
                held.append(pool.getconn(timeout=0.3))
            except PoolTimeout:
                break
        pool.timeout = 0.5

        assert_busy(in_own_thread(lambda: get_jobs(alice[1])))
    finally:
        pool.timeout = timeout
        for conn in held:
            pool.putconn(conn)

    assert in_own_thread(lambda: get_jobs(bob[1])).status_code == 200  # a connection came free


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_connections_broken_under_the_pool_are_replaced_without_a_500(alice):
    """psycopg_pool checks each connection it hands out and backs off (1 s, 2 s, …) after each broken one, so
    the first requests after a restart may wait or get a 503, never a 500, and the pool heals by itself."""
    pool = connection.pool
    assert in_own_thread(lambda: get_jobs(alice[1])).status_code == 200  # the pool holds idle connections now
    connection.close()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert ended >= 1  # as a PostgreSQL restart would leave them
    timeout, pool.timeout = pool.timeout, 2
    try:
        statuses = []
        while len(statuses) < 8 and statuses[-1:] != [200]:
            statuses.append(in_own_thread(lambda: get_jobs(alice[1])).status_code)
    finally:
        pool.timeout = timeout

    assert set(statuses) <= {200, 503}
    assert statuses[-1] == 200
    assert [in_own_thread(lambda: get_jobs(alice[1])).status_code for _ in range(3)] == [200] * 3


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_forked_worker_opens_its_own_connections():
    """django-q2 forks its workers: a child that took its parent's pooled connections would talk over the
    parent's sockets (two processes, one session)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        parents = {pid for (pid,) in cursor.fetchall()}  # every connection of this process's pool
    connection.close()  # back to the pool, as django-q2 closes connections before it forks
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.write(write, str(backend_pid()).encode())
        finally:
            os._exit(0)
    os.close(write)
    childs = int(os.read(read, 32) or 0)
    os.waitpid(child, 0)

    assert childs and childs not in parents
    assert backend_pid()  # the parent's connections still work
