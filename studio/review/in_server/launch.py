"""Starts argilla-server's processes with studio's adaptations; run by argilla-server's venv Python.

    python launch.py serve --host 127.0.0.1 --port 6900   # migrate, owner user, reindex, then the API + UI
    python launch.py worker                               # the rq worker for Argilla's background jobs

Settings come from ARGILLA_* environment variables (studio.review.server sets them). The owner's
password and API key and the token-signing key are read from the owner-only file named by
STUDIO_ARGILLA_CREDENTIALS, so no secret is on a command line, in the environment studio passes, or in a log.
Doing the start-up chores in the server's own process pays argilla_server's import time (about 5 s) once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time


def load_credentials() -> dict[str, str]:
    with open(os.environ["STUDIO_ARGILLA_CREDENTIALS"], encoding="utf-8") as f:
        credentials = json.load(f)
    # Read by argilla_server's settings at import: a fixed key keeps logins valid across restarts.
    os.environ["ARGILLA_AUTH_SECRET_KEY"] = credentials["auth_secret_key"]
    return credentials


def say(message: str) -> None:
    print(f"[studio launch {time.strftime('%H:%M:%S')}] {message}", flush=True)


def migrate() -> None:
    from alembic.config import main as alembic
    from argilla_server.database import ALEMBIC_CONFIG_FILE

    alembic(argv=["-c", ALEMBIC_CONFIG_FILE, "upgrade", "head"])


async def ensure_owner(credentials: dict[str, str]) -> None:
    """The owner user studio signs in with; its password and API key follow the credentials file."""
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.models import User, UserRole

    async with AsyncSessionLocal() as db:
        user = await accounts.get_user_by_username(db, credentials["username"])
        if user is None:
            await User.create(
                db,
                first_name="studio",
                username=credentials["username"],
                role=UserRole.owner,
                password_hash=accounts.hash_password(credentials["password"]),
                api_key=credentials["api_key"],
            )
            say(f"created the owner user {credentials['username']!r}")
        elif user.api_key != credentials["api_key"] or not accounts.verify_password(
            credentials["password"], user.password_hash
        ):
            await user.update(
                db, api_key=credentials["api_key"], password_hash=accounts.hash_password(credentials["password"])
            )
            say(f"updated the owner user {credentials['username']!r} to the stored credentials")


async def reindex() -> None:
    """osmem keeps nothing on disk: rebuild every dataset's index from SQLite, the durable store."""
    from argilla_server.cli.search_engine.reindex import Reindexer
    from argilla_server.database import AsyncSessionLocal, async_engine
    from argilla_server.search_engine import get_search_engine

    datasets = records = 0
    async with AsyncSessionLocal() as db:
        async for engine in get_search_engine():
            async for dataset in Reindexer.reindex_datasets(db, engine):
                datasets += 1
                async for batch in Reindexer.reindex_dataset_records(db, engine, dataset):
                    records += len(batch)
    # The next event loop (uvicorn's) must not inherit connections bound to this one.
    await async_engine.dispose()
    say(f"reindexed {records} record(s) of {datasets} dataset(s)")


async def prepare(credentials: dict[str, str]) -> None:
    await ensure_owner(credentials)
    await reindex()


def serve(host: str, port: int) -> None:
    credentials = load_credentials()
    import osmem_engine  # noqa: F401  (registers the adapted engine before anything asks for one)

    started = time.monotonic()
    migrate()
    asyncio.run(prepare(credentials))
    say(f"ready to serve after {time.monotonic() - started:.1f} s of start-up chores")

    import uvicorn

    # No access log: the UI's sign-in link carries the credentials in its query string.
    uvicorn.run("argilla_server:app", host=host, port=port, access_log=False)


def worker() -> None:
    load_credentials()
    import osmem_engine  # noqa: F401
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq import Worker

    Worker([HIGH_QUEUE, DEFAULT_QUEUE], connection=REDIS_CONNECTION).work()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=6900)
    sub.add_parser("worker")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.host, args.port)
    else:
        worker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
