"""Load and validate ``config.toml`` into typed settings.

Every problem is reported as one line naming the key path, for example
``config.toml: sources[2].url: not an http(s) or file URL``. Secrets never live in the file:
the file names the environment variables that hold them.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import logging
import os
import ssl
import tomllib
import unicodedata
import zoneinfo
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

DEFAULT_CONFIG_NAME = "config.toml"
log = logging.getLogger("aggregator.config")


def is_loopback_url(url: str) -> bool:
    """A local install (a URL on 127.0.0.1, localhost or ::1) may use plain http."""
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


class ConfigError(Exception):
    """The configuration is unusable. ``problems`` holds one line per bad key."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Section(BaseModel):
    """Strict: ``true`` or ``"20"`` is not a number, ``1`` is not a boolean (TOML has types)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


YEAR_MINUTES = 366 * 24 * 60
"""The longest interval, window or age any setting may name: past it, date arithmetic overflows
long before it means anything."""
HEADER_TEXT_CHARS = 200


def list_id_label(value: str) -> str:
    """The List-Id label (RFC 2919) of ``value``, lower-cased; ValueError when it has no such shape."""
    label = value.strip().lower()
    if not label or len(label) > 200 or not all(c.isalnum() or c in ".-" for c in label):
        raise ValueError(f"bad List-Id {value[:80]!r}: use letters, digits, dots and dashes")
    if not label.isascii() or "." not in label or "" in label.split("."):
        raise ValueError(f"bad List-Id {value[:80]!r}: expected e.g. daily.news.example.org")
    return label


def _header_text(value: str) -> str:
    """A value that goes into a mail header: one line of at most HEADER_TEXT_CHARS characters."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise ValueError("must be one line of text, without control or format characters")
    if len(value) > HEADER_TEXT_CHARS:
        raise ValueError(f"longer than {HEADER_TEXT_CHARS} characters")
    return value


def _list_id(value: str) -> str:
    list_id_label(value)
    return value


HeaderText = Annotated[str, AfterValidator(_header_text)]
"""A string that goes into a mail header (names, titles, subjects)."""
ListId = Annotated[str, AfterValidator(_list_id)]


def _check_feed_url(value: str) -> str:
    """Accept http(s) and file URLs, and plain local paths (made into file URLs later)."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError("URL has no host")
        return value
    if parts.scheme == "file" or (not parts.scheme and value):
        return value
    raise ValueError("not an http(s) or file URL")


def _networks(values: list[str]) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP network such as 127.0.0.1/32") from None
    return values


def _config_file(value: str, info: ValidationInfo) -> Path | None:
    """A configured file resolved against the config folder, when loading a config (else None)."""
    root = (info.context or {}).get("root")
    return Path(root) / Path(value).expanduser() if value and root is not None else None


class GeneralSettings(_Section):
    """Identity of this installation."""

    name: HeaderText = "Aggregator"
    """Shown in every digest's List-Id phrase and pages; one line."""
    base_url: str = "http://127.0.0.1:8080"
    contact_url: str = "https://github.com/aggregator/aggregator"
    data_dir: str = "data"
    templates_dir: str = ""
    """A folder of the operator's templates: a file there replaces the shipped template of the
    same name (``digest.html.j2``, ``web/base.html.j2``...); empty: the shipped ones only."""
    tick_seconds: float = Field(30, gt=0, le=3600)
    """How often the running service looks for due sources and pending mail."""
    lease_seconds: float = Field(300, ge=5, le=86400)
    """How long a worker's claim on a piece of work (a source to poll, an item to brief, a
    mail to send) lasts; a killed worker's work is taken over after it runs out."""

    @field_validator("base_url", "contact_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
            raise ValueError("not an http(s) URL")
        return value.rstrip("/")

    @field_validator("templates_dir")
    @classmethod
    def _templates_dir(cls, value: str, info: ValidationInfo) -> str:
        path = _config_file(value, info)
        if path is None:
            return value
        if not path.is_dir():
            raise ValueError(f"not a folder: {path}")
        from aggregator.templating import check_overrides  # Jinja2 only when there are overrides

        problems, strays = check_overrides(path)
        if problems:
            raise ValueError("; ".join(problems))
        for name in strays:
            log.warning(
                "general.templates_dir: %s replaces no shipped template and is never used", name
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _https_unless_local(cls, value: str) -> str:
        if urlsplit(value).scheme != "https" and not is_loopback_url(value):
            raise ValueError(
                "must be an https URL (plain http only on 127.0.0.1 or localhost): "
                "mail carries one-click unsubscribe links to it"
            )
        return value


class DatabaseSettings(_Section):
    url: str = ""
    """Empty means SQLite at ``<data_dir>/aggregator.db``."""

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class FetchSettings(_Section):
    """Limits and manners for HTTP fetching."""

    timeout_seconds: float = Field(20.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(10.0, gt=0, le=120)
    max_body_bytes: int = Field(15 * 1024 * 1024, ge=1024, le=1024**3)
    concurrency: int = Field(50, ge=1, le=1000)
    per_host: int = Field(4, ge=1, le=100)
    max_redirects: int = Field(5, ge=0, le=20)
    user_agent: str = ""
    """Empty means ``aggregator/<version> (+<contact_url>)``."""
    allow_networks: list[str] = []
    """Private/loopback networks that may be fetched anyway, e.g. ``["127.0.0.1/32"]``."""
    min_interval_minutes: float = Field(15, gt=0, le=YEAR_MINUTES)
    max_interval_minutes: float = Field(24 * 60, gt=0, le=YEAR_MINUTES)
    max_backoff_minutes: float = Field(24 * 60, gt=0, le=YEAR_MINUTES)
    file_folders: list[str] = []
    """Folders whose files an OPML import or a web page may name as ``file:`` feeds (default:
    none; sources written in this file may always be local files)."""

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        return _networks(values)


class SourceSettings(_Section):
    """One feed to poll."""

    url: str
    name: str = ""
    publisher: str = ""
    """The publisher's name in digests (sources of one site share it); empty: from the domain."""
    tags: list[str] = []
    priority: int = Field(3, ge=1, le=5)
    """1 (lowest) to 5 (highest); ranks stories in digests."""
    min_interval_minutes: float | None = Field(None, gt=0, le=YEAR_MINUTES)
    max_interval_minutes: float | None = Field(None, gt=0, le=YEAR_MINUTES)
    enabled: bool = True
    full_text: bool | None = None
    """Fetch the article page when the feed carries only a teaser; None follows [briefs]."""
    llm: bool | None = None
    """Brief this source's items with the LLM back end (true) or never (false); None follows
    ``[briefs.llm] tags``."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_feed_url(value)

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip().lower() for v in values]
        if any(not v for v in cleaned):
            raise ValueError("tags must be non-empty strings")
        return cleaned

    @model_validator(mode="after")
    def _interval_order(self) -> SourceSettings:
        lo, hi = self.min_interval_minutes, self.max_interval_minutes
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("min_interval_minutes is larger than max_interval_minutes")
        return self


class LLMSettings(_Section):
    """Optional OpenAI-compatible back end for briefs."""

    enabled: bool = False
    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "llama3.1"
    api_key_env: str = "AGGREGATOR_LLM_API_KEY"
    timeout_seconds: float = Field(30.0, gt=0, le=3600)
    max_calls_per_run: int = Field(50, ge=0, le=1_000_000)
    max_tokens_per_run: int = Field(0, ge=0, le=10**12)
    """Tokens (prompt and reply) one run may spend; 0: no limit but the call cap."""
    max_tokens_per_source: int = Field(0, ge=0, le=10**12)
    """Tokens one source's items may spend in one run; 0: no limit."""
    tags: list[str] = []
    """Only sources with one of these tags use the LLM (a source's ``llm`` overrides); empty:
    every source."""

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, values: list[str]) -> list[str]:
        return [v.strip().lower() for v in values if v.strip()]


class BriefSettings(_Section):
    teaser_words: int = Field(80, ge=0, le=100_000)
    """Items with fewer words than this count as teasers."""
    full_text: bool = False
    """Fetch and extract the article page for teasers (per-source ``full_text`` overrides)."""
    glossary: str = ""
    """Path of a TOML file of ``term = "definition"`` pairs."""
    llm: LLMSettings = LLMSettings()


class SMTPSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str = ""
    password_env: str = "AGGREGATOR_SMTP_PASSWORD"
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    concurrency: int = Field(4, ge=1, le=64)
    rate_per_second: float = Field(0, ge=0, le=10_000)
    """0 means unlimited."""
    ca_file: str = ""
    """PEM certificates of a private CA, trusted for this server besides the system's."""

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str, info: ValidationInfo) -> str:
        path = _config_file(value, info)
        if path is not None:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
            except OSError as exc:  # ssl.SSLError is one: no certificate in the file
                raise ValueError(f"cannot use {path} as CA certificates: {exc}") from None
        return value


class DKIMSettings(_Section):
    enabled: bool = False
    selector: str = ""
    domain: str = ""
    private_key_file: str = ""

    @field_validator("private_key_file")
    @classmethod
    def _key_file(cls, value: str, info: ValidationInfo) -> str:
        path = _config_file(value, info)
        readable = path is None or (path.is_file() and os.access(path, os.R_OK))
        if info.data.get("enabled") and not readable:
            raise ValueError(f"cannot read {path}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> DKIMSettings:
        if self.enabled and not (self.selector and self.domain and self.private_key_file):
            raise ValueError("selector, domain and private_key_file are needed when enabled")
        return self


class InboundSettings(_Section):
    """The inbound SMTP listener: newsletters sent to a source's address become its items."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(2525, ge=0, le=65535)
    domain: str = "inbound.example.org"
    """The domain of the sources' addresses (``<random>@<domain>``); its MX points here."""
    max_message_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    per_sender_per_hour: int = Field(30, ge=1)
    per_source_per_hour: int = Field(60, ge=1)
    bounce_local_part: str = Field("bounces", pattern=r"^[a-z0-9][a-z0-9._-]{0,30}$")
    """While the listener runs, digests go out from ``<bounce_local_part>+<signed delivery
    token>@<domain>`` (VERP), and the bounces that come back later are counted."""
    trusted_relays: list[str] = []
    """Networks of the relays in front (Postfix): only mail they hand over has its SPF result
    taken from the relay's topmost ``Authentication-Results`` / ``Received-SPF`` header."""
    relay_id: str = Field("", max_length=253)
    """The relay's authserv-id (``Authentication-Results``) or ``receiver=`` (``Received-SPF``):
    when set, only a header naming it counts."""

    @field_validator("trusted_relays")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return value


class MailSettings(_Section):
    from_address: str = "digest@example.org"
    from_name: HeaderText = "Aggregator"
    transport: Literal["maildir", "smtp"] = "maildir"
    maildir: str = "outbox"
    list_id: ListId = "digest.example.org"
    unsubscribe_mailto: str = ""
    """Address for the mailto: List-Unsubscribe; empty means ``from_address``."""
    bounce_threshold: int = Field(3, ge=1, le=1000)
    """Hard bounces after which a subscriber is suspended."""
    max_attempts: int = Field(8, ge=1, le=100)
    smtp: SMTPSettings = SMTPSettings()
    dkim: DKIMSettings = DKIMSettings()
    inbound: InboundSettings = InboundSettings()

    @field_validator("from_address", "unsubscribe_mailto")
    @classmethod
    def _address(cls, value: str) -> str:
        if value:
            try:
                validate_email(value, check_deliverability=False, allow_smtputf8=False)
            except EmailNotValidError as exc:
                raise ValueError(f"not a valid email address ({exc})") from None
        return value


class DigestSettings(_Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    title: HeaderText = ""
    schedule: str = "0 7 * * *"
    """Cron expression: minute hour day month day-of-week."""
    timezone: str = "UTC"
    subject: HeaderText = "{title}: {lead}"
    """Placeholders: {title}, {date}, {count}, {lead}."""
    max_items: int = Field(20, ge=1, le=200)
    per_publisher: int = Field(3, ge=1, le=200)
    """At most this many stories of one publisher in an edition."""
    send_empty: bool = False

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a cron expression ({exc})") from None
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        try:
            value.format(title="", date="", count=0, lead="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"bad placeholder {exc}; use {{title}} {{date}} {{count}} {{lead}}"
            ) from None
        return value


class PublishSettings(_Section):
    dir: str = "public"
    title: str = ""
    """Empty means [general].name."""
    max_entries: int = Field(50, ge=1, le=5000)
    tag_feeds: bool = True
    """Feeds per tag the operator names (source tags in this file, ``sources add --tag``, OPML
    folders and categories)."""
    category_tag_feeds: bool = False
    """Also a feed per category that the source feeds give their items (opt-in)."""
    max_category_tag_feeds: int = Field(20, ge=1, le=500)
    """At most this many category feeds, the most used categories first."""
    hub_url: str = ""


class WebSubSettings(_Section):
    """Subscribing to the WebSub hubs that source feeds advertise: their pushes reach the web
    app at ``<general.base_url>/websub/<token>``."""

    subscribe: Literal["auto", "always", "never"] = "auto"
    """``auto``: when ``general.base_url`` is not a loopback URL (a hub could not reach it)."""
    lease_seconds: int = Field(7 * 86400, ge=300, le=365 * 86400)
    """The lease asked of the hub (it may grant another); renewed before it ends."""
    renew_before_seconds: int = Field(86400, ge=60, le=30 * 86400)
    """Renew this long before the lease ends (at half a shorter lease)."""
    retry_minutes: float = Field(30, gt=0, le=7 * 24 * 60)
    """After a hub refused or never verified a request, ask again after this long (doubling)."""


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    secret_env: str = "AGGREGATOR_SECRET_KEY"
    confirm_max_age_hours: float = Field(48, gt=0, le=YEAR_MINUTES / 60)
    confirmation_window_minutes: float = Field(60, gt=0, le=YEAR_MINUTES)
    """At most one pending-confirmation mail per address within this window."""
    subscribe_per_ip_per_hour: int = Field(20, ge=1, le=1_000_000)
    trusted_proxies: list[str] = []
    """Reverse proxies (IPs or networks) whose X-Forwarded-For/-Proto are believed; default none."""
    max_connections: int = Field(1000, ge=1, le=1_000_000)
    """Connections the web server holds open at once (fewer when the open-file limit is low)."""
    reserved_descriptors: int = Field(256, ge=64, le=1_000_000)
    """Open files kept free of web connections, for polling, mail and the database."""
    request_timeout_seconds: float = Field(10, gt=0, le=600)
    """A request (head and body) must arrive within this long, or its connection is closed."""
    keep_alive_seconds: int = Field(5, ge=1, le=600)
    """An idle connection between two requests is closed after this long."""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, values: list[str]) -> list[str]:
        return _networks(values)


class Settings(_Section):
    """The whole configuration, with paths resolved against ``root``."""

    general: GeneralSettings = GeneralSettings()
    database: DatabaseSettings = DatabaseSettings()
    fetch: FetchSettings = FetchSettings()
    sources: list[SourceSettings] = []
    briefs: BriefSettings = BriefSettings()
    mail: MailSettings = MailSettings()
    digests: list[DigestSettings] = []
    publish: PublishSettings = PublishSettings()
    websub: WebSubSettings = WebSubSettings()
    web: WebSettings = WebSettings()
    root: Path = Path(".")
    origin: str = "defaults"
    """Where the settings came from, for messages: a file name or "defaults"."""

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for digest in self.digests:
            if digest.name in seen:
                raise ValueError(f"digest name {digest.name!r} is used twice")
            seen.add(digest.name)
        return self

    # --- derived values -------------------------------------------------------------

    def path(self, value: str) -> Path:
        """Resolve a configured path against the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    @property
    def data_dir(self) -> Path:
        return self.path(self.general.data_dir)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'aggregator.db'}"

    @property
    def templates_dir(self) -> Path | None:
        """The operator's template folder (``general.templates_dir``), or None."""
        return self.path(self.general.templates_dir) if self.general.templates_dir else None

    @property
    def public_dir(self) -> Path:
        return self.path(self.publish.dir)

    @property
    def user_agent(self) -> str:
        from aggregator import __version__

        return self.fetch.user_agent or f"aggregator/{__version__} (+{self.general.contact_url})"

    @property
    def file_folders(self) -> list[Path]:
        """``fetch.file_folders`` resolved (symbolic links too) against the config folder."""
        return [self.path(folder).resolve() for folder in self.fetch.file_folders]

    def digest(self, name: str) -> DigestSettings | None:
        return next((d for d in self.digests if d.name == name), None)

    def secret(self, env_name: str) -> str | None:
        """A secret from the environment variable named in the config."""
        return os.environ.get(env_name) or None


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_SECRET_KEYS = ("password", "api_key", "secret", "token")


def _secret_hint(loc: tuple[int | str, ...]) -> str | None:
    """For a secret written into the file: the ``*_env`` key that names its variable instead."""
    key = loc[-1] if loc else None
    if not isinstance(key, str) or key.lower() not in _SECRET_KEYS:
        return None
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model and isinstance(part, str) else None
        if field is not None:
            kinds = (field.annotation, *get_args(field.annotation))
            model = next(
                (k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None
            )
    env = model.model_fields.get(f"{key}_env") if model else None
    if env is None:
        return "secrets come from the environment, not the file"
    return (
        f"secrets come from the environment: use {key}_env (the variable's name, "
        f"default {env.default}) and set that variable"
    )


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _secret_hint(tuple(error["loc"])) or "unknown key (check the spelling)"
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_toml_value(error['input'])}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


_TYPE_NAMES = {
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
}


def _toml_value(value: object) -> str:
    """A value as TOML spells it, with its type, e.g. ``the string "20"``."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {json.dumps(value[:60])}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return "a list" if isinstance(value, list) else "a table"


def _duplicate_sources(data: dict[str, Any], origin: str) -> list[str]:
    """One line per ``[[sources]]`` entry whose URL an earlier entry already has."""
    sources = data.get("sources")
    first: dict[str, int] = {}
    problems = []
    for index, source in enumerate(sources if isinstance(sources, list) else []):
        url = source.get("url") if isinstance(source, dict) else None
        if not isinstance(url, str) or not url.strip():
            continue
        earlier = first.setdefault(url.strip(), index)
        if earlier != index:
            problems.append(
                f"{origin}: sources[{index}].url: the same URL as sources[{earlier}].url "
                f"({url.strip()!r}); list each feed once"
            )
    return problems


def from_mapping(
    data: dict[str, Any],
    *,
    root: Path,
    origin: str,
    variables: Mapping[tuple[str, ...], str] | None = None,
) -> Settings:
    """Validate a parsed TOML mapping; raise ConfigError listing every bad key.

    ``variables`` names the environment variable that set a key path: its problems name it."""
    variables = variables or {}
    problems = _duplicate_sources(data, variables.get(("sources",), origin))
    try:
        settings = Settings.model_validate(
            {**data, "root": root, "origin": origin}, context={"root": root}
        )
    except ValidationError as exc:
        problems += [
            f"{_where(tuple(e['loc']), origin, variables)}: {_describe(e)}" for e in exc.errors()
        ]
    if problems:
        raise ConfigError(problems)
    return settings


def _where(
    loc: tuple[int | str, ...], origin: str, variables: Mapping[tuple[str, ...], str]
) -> str:
    """``config.toml: fetch.timeout_seconds``, or the variable that set the key (or a table above)."""
    for end in range(len(loc), 0, -1):
        variable = variables.get(tuple(str(part) for part in loc[:end]))
        if variable is not None:
            rest = _format_loc(loc[end:])
            return f"{variable}: {rest}" if rest else variable
    return f"{origin}: {_format_loc(loc) or '(top level)'}"


# --- the environment --------------------------------------------------------------------------

ENV_PREFIX = "AGGREGATOR_"
_NOT_KEYS = ("root", "origin")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _leaves(
    model: type[BaseModel], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every key path below ``model`` with its type; a table's keys, not the table itself."""
    for name, field in model.model_fields.items():
        if not path and name in _NOT_KEYS:
            continue
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _leaves(kind, (*path, name))
        else:
            yield (*path, name), kind


def env_name(path: tuple[str, ...]) -> str:
    """The variable that sets a key: ``("mail", "smtp", "host")`` -> ``AGGREGATOR_MAIL_SMTP_HOST``."""
    return ENV_PREFIX + "_".join(path).upper()


@cache
def env_keys() -> dict[str, tuple[tuple[str, ...], Any]]:
    """Every variable that sets a key, with the key's path and type (read off the settings
    model, so ``AGGREGATOR_MAIL_SMTP_RATE_PER_SECOND`` is ``mail.smtp.rate_per_second``)."""
    return {env_name(path): (path, kind) for path, kind in _leaves(Settings)}


def _env_value(raw: str, kind: Any) -> Any:
    """A variable's text as the key's type; left a string when it is not one, so validation
    reports it as the file's values are (``expected a number, got the string "x"``)."""
    if get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    text = raw.strip()
    if kind is bool:
        word = text.lower()
        return True if word in _TRUE else False if word in _FALSE else raw
    if kind is int or kind is float:
        try:
            return kind(text)
        except ValueError:
            return raw
    if get_origin(kind) is list:
        if text.startswith("[") or get_args(kind) != (str,):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list ({exc})") from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return raw


def _with_environment(
    data: dict[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[tuple[str, ...], str], list[str]]:
    """``data`` with every ``AGGREGATOR_<KEY PATH>`` variable's value in place of the file's;
    the key paths set and by which variable; one problem line per unreadable value."""
    merged = dict(data)
    variables: dict[tuple[str, ...], str] = {}
    problems = []
    for variable, (path, kind) in env_keys().items():
        if variable not in environ:
            continue
        try:
            environ[variable].encode("utf-8")  # undecodable bytes arrive as lone surrogates
            value = _env_value(environ[variable], kind)
        except UnicodeEncodeError:
            problems.append(f"{variable}: not UTF-8 text")
            continue
        except ValueError as exc:
            problems.append(f"{variable}: {exc}")
            continue
        table = merged
        for part in path[:-1]:
            inner = table.get(part)
            table[part] = dict(inner) if isinstance(inner, dict) else {}
            table = table[part]
        table[path[-1]] = value
        variables[path] = variable
    return merged, variables, problems


def _named_variables(settings: Settings) -> set[str]:
    """The variables that ``*_env`` keys name (secrets): never taken for mistyped keys."""
    names = set()
    for path, _ in _leaves(Settings):
        if path[-1].endswith("_env"):
            value: Any = settings
            for part in path:
                value = getattr(value, part)
            names.add(str(value))
    return names


def unknown_variables(environ: Mapping[str, str], settings: Settings) -> list[str]:
    """One warning per ``AGGREGATOR_<SECTION>_...`` variable that sets no key (a misspelling),
    naming the nearest one; variables of other shapes (``AGGREGATOR_CONFIG``) are not keys."""
    keys = env_keys()
    sections = [env_name((name,)) for name in Settings.model_fields if name not in _NOT_KEYS]
    exempt = _named_variables(settings)
    warnings = []
    for variable in sorted(environ):
        if variable in keys or variable in exempt:
            continue
        if not any(variable == s or variable.startswith(s + "_") for s in sections):
            continue
        near = difflib.get_close_matches(variable, keys, n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        warnings.append(f"{variable}: not a setting, ignored{hint}")
    return warnings


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load ``path``; else ``$AGGREGATOR_CONFIG``; else ``./config.toml``; else the embedded
    defaults. ``AGGREGATOR_<SECTION>_<KEY>`` variables in ``environ`` (default: the process's
    environment) win over the file."""
    environ = os.environ if environ is None else environ
    if path is None:
        env = environ.get("AGGREGATOR_CONFIG")
        if env:
            path = Path(env)
        elif Path(DEFAULT_CONFIG_NAME).is_file():
            path = Path(DEFAULT_CONFIG_NAME)
    if path is None:
        data: dict[str, Any] = {}
        root, origin = Path.cwd(), "defaults"
    else:
        data = _read(path)
        root, origin = path.resolve().parent, path.name
    merged, variables, problems = _with_environment(data, environ)
    try:
        settings = from_mapping(merged, root=root, origin=origin, variables=variables)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    for warning in unknown_variables(environ, settings):
        log.warning("%s", warning)
    return settings


def _read(path: Path) -> dict[str, Any]:
    """The TOML mapping in ``path``; ConfigError when it cannot be read or parsed."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([f"{name}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{name}: invalid TOML: {exc}"]) from None
