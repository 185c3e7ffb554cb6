"""Display labels of the catalog's coded values (English message ids, shown translated)."""

from __future__ import annotations

from yiwang.core.i18n import N_

STATUS = {
    "draft": N_("Draft"),
    "submitted": N_("Under review"),
    "rejected": N_("Returned"),
    "published": N_("Published"),
}
STATUS_TAG = {"draft": "", "submitted": "amber", "rejected": "red", "published": "green"}
SHARE = {
    "unconditional": N_("Shared unconditionally"),
    "conditional": N_("Shared on conditions"),
    "none": N_("Not shared"),
}
OPEN = {"open": N_("Open to the public"), "conditional": N_("Open on conditions"), "closed": N_("Not open")}
CYCLE = {
    "realtime": N_("Real time"),
    "hourly": N_("Hourly"),
    "daily": N_("Daily"),
    "weekly": N_("Weekly"),
    "monthly": N_("Monthly"),
    "quarterly": N_("Quarterly"),
    "half_yearly": N_("Half-yearly"),
    "yearly": N_("Yearly"),
    "irregular": N_("Irregular"),
}
FORMAT = {
    "file": N_("Electronic file"),
    "spreadsheet": N_("Spreadsheet"),
    "database": N_("Database"),
    "image": N_("Graphics and images"),
    "stream": N_("Streaming media"),
    "self_describing": N_("Self-describing format"),
    "api": N_("Interface (API)"),
}
METHOD = {
    "api": N_("API call"),
    "table_exchange": N_("Table exchange"),
    "file": N_("File download"),
    "verification": N_("Data verification"),
}
DATA_TYPE = {
    "string": N_("String"),
    "integer": N_("Integer"),
    "decimal": N_("Decimal"),
    "date": N_("Date"),
    "datetime": N_("Date and time"),
    "boolean": N_("Boolean"),
    "text": N_("Long text"),
    "binary": N_("Binary"),
}
SENSITIVITY = {
    "L1": N_("L1 public"),
    "L2": N_("L2 internal"),
    "L3": N_("L3 sensitive"),
    "L4": N_("L4 highly sensitive"),
}
SENSITIVITY_TAG = {"L1": "", "L2": "", "L3": "amber", "L4": "red"}
ACTION = {
    "create": N_("Registered"),
    "update": N_("Edited"),
    "submit": N_("Submitted for review"),
    "withdraw": N_("Withdrawn"),
    "reject": N_("Returned"),
    "publish": N_("Published"),
    "mount": N_("Data mounted"),
    "unmount": N_("Data unmounted"),
    "load": N_("Data loaded"),
}
# Governance vocabulary (kinds, masks, cross-field rules of yiwang.governance), for display only.
KIND = {
    "text": N_("Text"),
    "person_name": N_("Person name"),
    "resident_id": N_("Resident ID number"),
    "uscc": N_("Unified social credit code"),
    "phone": N_("Phone number"),
    "mobile": N_("Mobile number"),
    "landline": N_("Landline number"),
    "date": N_("Date"),
    "gender": N_("Gender"),
    "division_code": N_("Division code"),
    "enum": N_("Enumeration"),
    "address": N_("Address"),
    "ethnic_group": N_("Ethnic group"),
    "email": N_("E-mail"),
    "postal_code": N_("Postal code"),
    "number": N_("Number"),
}
MASK = {
    "keep": N_("Kept as is"),
    "keep_ends": N_("Keep first and last characters"),
    "surname": N_("Keep surname"),
    "truncate_address": N_("Address truncated"),
    "generalise_date": N_("Date generalised"),
    "age_band": N_("Age band"),
    "pseudonym": N_("Keyed pseudonym (SM3)"),
    "encrypt": N_("SM4 encrypted"),
    "suppress": N_("Suppressed"),
}
CROSS = {
    "id_birthdate_match": N_("ID number matches birth date"),
    "id_gender_match": N_("ID number matches gender"),
    "not_after": N_("Not after"),
    "not_before": N_("Not before"),
    "required_with": N_("Required together"),
}
