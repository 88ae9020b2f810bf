"""Which columns identify people, and so are replaced by stand-ins instead of learned.

SDV names a column's sdtype from its name alone (``emails_sent`` becomes an email, an integer
``latitude`` a latitude), and then replaces it with Faker values: real measurements are lost and
nobody sees why. Here a column is replaced only when it is really identifying:

- the spec says so (``pii: true`` or a PII sdtype in ``metadata.columns``), or
- it holds text (never numbers), its values are mostly unique, and there is evidence beyond that:
  a direct-identifier sdtype from SDV's detection, an identifying column name, values shaped like
  emails, phone numbers or person names, or nearly every value distinct (a free-text identifier).

Everything else is learned, and the profile says when a column looked like PII but was kept.
"""

from __future__ import annotations

import re

# SDV sdtypes that identify a person or a device on their own.
DIRECT_IDENTIFIERS = {
    "email",
    "phone_number",
    "first_name",
    "last_name",
    "name",
    "ssn",
    "address",
    "street_address",
    "secondary_address",
    "iban",
    "swift8",
    "swift11",
    "credit_card_number",
    "ipv4_address",
    "ipv6_address",
    "ip_address",
    "mac_address",
    "license_plate",
    "vin",
    "user_agent_string",
}
# SDV sdtypes that describe where, not who: learned as ordinary categories or numbers.
PLACES = {"city", "state", "state_abbr", "administrative_unit", "country_code", "postcode", "latitude", "longitude"}
PII_SDTYPES = DIRECT_IDENTIFIERS | PLACES

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_PERSON = re.compile(r"^[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)+$")
_NAME_TOKENS = {
    "name",
    "firstname",
    "first_name",
    "lastname",
    "last_name",
    "surname",
    "fullname",
    "full_name",
    "email",
    "mail",
    "phone",
    "telephone",
    "mobile",
    "ssn",
    "passport",
    "address",
    "street",
    "iban",
}
MOSTLY_UNIQUE = 0.5  # distinct / non-null values: below this a column repeats like a category
FREE_TEXT_UNIQUE = 0.9  # nearly every value distinct: the column names rows, it does not describe them
MIN_DISTINCT = 10  # fewer distinct values than this identify nobody in particular
SAMPLE = 1000


def evidence(series, column: str, sdv_sdtype: str | None) -> str | None:
    """Why ``column`` looks identifying, whatever its uniqueness; None if nothing suggests it."""
    import pandas as pd

    if sdv_sdtype in DIRECT_IDENTIFIERS:
        return f"SDV detected sdtype {sdv_sdtype}"
    normalized = re.sub(r"[^a-z0-9]+", "_", str(column).lower()).strip("_")
    if normalized in _NAME_TOKENS or set(normalized.split("_")) & {"email", "phone", "ssn", "passport"}:
        return "column name"
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return None
    values = series.dropna().astype(str)
    if values.empty:
        return None
    sample = values.sample(min(SAMPLE, len(values)), random_state=0)
    if sample.str.match(EMAIL_PATTERN).mean() >= 0.5:
        return "values look like email addresses"
    if (sample.str.match(_PHONE) & ~sample.str.match(_DATE)).mean() >= 0.5 and sample.str.count(r"\d").min() >= 7:
        return "values look like phone numbers"
    if sample.str.match(_PERSON).mean() >= 0.8:
        return "values look like person names"
    return None


def identifying(series, column: str, sdv_sdtype: str | None) -> tuple[str | None, str | None]:
    """(reason to replace the column, or None; a note for the profile when it looked like PII but is kept)."""
    import pandas as pd

    if sdv_sdtype == "datetime" or pd.api.types.is_datetime64_any_dtype(series):
        return None, None  # a date identifies nobody on its own
    numeric = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    why = evidence(series, column, sdv_sdtype)
    if numeric:
        if why or sdv_sdtype in PLACES:
            return None, f"named like PII ({why or 'SDV sdtype ' + sdv_sdtype}) but holds numbers: learned"
        return None, None
    values = series.dropna()
    distinct = int(values.nunique())
    share = distinct / len(values) if len(values) else 0.0
    if distinct >= MIN_DISTINCT and share >= FREE_TEXT_UNIQUE and why is None:
        why = "free-text identifier (nearly every value distinct)"
    if why and distinct >= MIN_DISTINCT and share >= MOSTLY_UNIQUE:
        return f"{why}; {share:.0%} of values distinct", None
    if why:
        return None, (
            f"looked like PII ({why}) but has only {distinct} distinct values ({share:.0%}): "
            "learned as a category; set pii: true in the spec to replace it"
        )
    if sdv_sdtype in PLACES:
        return None, f"SDV detected sdtype {sdv_sdtype}, which describes a place, not a person: learned"
    return None, None
