"""Tracking parameters in links: the one rule both an item's key and a story's key follow.

Mailers and ad networks append a parameter that names the campaign, the click or the reader
(``utm_campaign=c1``, ``fbclid=…``, ``mc_eid=…``); it changes between fetches and readers, and
says nothing about which page the link is. The names are those of the public strip lists
(AdGuard's TrackParamFilter, ClearURLs' rules, Firefox's query stripping) for Google, Meta,
Microsoft, TikTok, Twitter/X, LinkedIn, Pinterest, Yandex, Instagram, Adobe, AT Internet,
Matomo/Piwik, Mailchimp, HubSpot, Marketo, Oracle Eloqua, Salesforce Marketing Cloud, Klaviyo,
ConvertKit, Drip, Dotdigital, Vero, Olytics, Branch and Impact. Each is matched whole (or by its
vendor's prefix): courlan's pattern, which trafilatura brings, also matches inside names
(``gallery``, ``reference``, ``source_id``), and a parameter that names the page must stay.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_PREFIXES = r"utm_|hsa_|__hs|sfmc_|pk_|mtm_|matomo_|piwik_|fb_|mc_|ml_|oly_|vero_|_bta_|sc_"
_NAMES = [
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "gad_source",
    "msclkid",
    "twclid",
    "ttclid",
    "yclid",
    "ysclid",
    "igshid",
    "igsh",
    "li_fat_id",
    "trk",
    "trkcampaign",
    "trackingid",
    "epik",
    "srsltid",
    "s_kwcid",
    "s_cid",
    "ef_id",
    "mkwid",
    "pcrid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "hsctatracking",
    "_ke",
    "_kx",
    "ck_subscriber_id",
    "__s",
    "mkt_tok",
    "elqtrackid",
    "elqtrack",
    "elqaid",
    "elqat",
    "elqcampaignid",
    "et_rid",
    "dm_i",
    "_branch_match_id",
    "irclickid",
    "rb_clickid",
    "sscid",
    "wickedid",
    "_openstat",
    "xtor",
    "at_medium",
    "at_campaign",
    "at_format",
    "at_send_date",
    "ref_src",
    "ref_url",
    "nr_email_referer",
    "vgo_ee",
    "spm",
    "scm",
    "action_object_map",
    "action_type_map",
    "action_ref_map",
    "__twitter_impression",
    "cvid",
]
_TRACKING = re.compile(rf"(?:{_PREFIXES})\w*|(?:{'|'.join(map(re.escape, _NAMES))})")


def is_tracking(name: str) -> bool:
    """True for a query parameter that tracks the click or the reader, not the page."""
    return bool(_TRACKING.fullmatch(name.lower()))


def without_tracking(url: str) -> str:
    """``url`` without its tracking parameters (and a fragment that is one); otherwise the very
    same string, so a link that carries none keys exactly as it always did."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True) if parts.query else []
    kept = [(k, v) for k, v in pairs if not is_tracking(k)]
    fragment = parts.fragment
    tracked_fragment = "=" in fragment and is_tracking(fragment.split("=", 1)[0])
    if len(kept) == len(pairs) and not tracked_fragment:
        return url
    query = urlencode(kept) if len(kept) != len(pairs) else parts.query
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path, query, "" if tracked_fragment else fragment)
    )
