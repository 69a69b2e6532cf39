"""The running installation: settings plus the store, opened once and shared by every command."""

from __future__ import annotations

import logging
import secrets
from functools import cached_property

from aggregator.config import Settings
from aggregator.store.db import Database
from aggregator.store.sources import sync_config_sources

log = logging.getLogger("aggregator")


class App:
    """Settings and the database, with config sources synced on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        db = Database(self.settings.database_url)
        with db.session() as session:
            sync_config_sources(session, self.settings)
        return db

    @cached_property
    def secret_key(self) -> str:
        """The signing key: from the environment, else generated once into the data folder."""
        env_name = self.settings.web.secret_env
        value = self.settings.secret(env_name)
        if value:
            return value
        path = self.settings.data_dir / "secret.key"
        if path.is_file():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(value)
        log.warning("%s is not set; generated a signing key in %s", env_name, path)
        return value

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
