"""The running installation: settings plus the store, opened once and shared by every command."""

from __future__ import annotations

import logging
import secrets
from functools import cached_property

from aggregator.config import Settings
from aggregator.store.db import Database
from aggregator.store.locks import exclusive
from aggregator.store.sources import sync_config_sources
from aggregator.store.state import shared_value

log = logging.getLogger("aggregator")


class App:
    """Settings and the database, with config sources synced on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        db = Database(self.settings.database_url)
        with exclusive(db.engine, "sync"), db.session() as session:
            sync_config_sources(session, self.settings)
        return db

    @cached_property
    def secret_key(self) -> str:
        """The signing key: from the environment, else one stored once in the database, which
        every worker shares (seeded from the ``secret.key`` file of an older installation)."""
        env_name = self.settings.web.secret_env
        value = self.settings.secret(env_name)
        if value:
            return value
        legacy = self.settings.data_dir / "secret.key"

        def make() -> str:
            if legacy.is_file():
                return legacy.read_text().strip()
            log.warning("%s is not set; generated a signing key, kept in the database", env_name)
            return secrets.token_urlsafe(32)

        return shared_value(self.db, "secret_key", make)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
