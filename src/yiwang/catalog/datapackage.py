"""An entry as a Frictionless Data Package whose one resource carries a Table Schema.

Field types come from the items' data types; constraints come from the governance rules
(required, enum, pattern — the rule's own or the standard form of resident IDs, credit
codes, mobile numbers and division codes —, min/max, lengths), single-column unique keys become
``unique`` and the first unique key the ``primaryKey``. Catalog metadata the standard has no
place for (code, share and open attributes, sensitivity of each item) goes in ``x-`` properties.
The resource's ``path`` names the file a share delivery would carry; the data itself is obtained
through the exchange, not from this descriptor.
"""

from __future__ import annotations

from typing import Any

from yiwang.catalog.schemas import ResourcePublic

TYPES = {
    "string": ("string", None),
    "text": ("string", None),
    "binary": ("string", "binary"),
    "integer": ("integer", None),
    "decimal": ("number", None),
    "date": ("date", None),
    "datetime": ("datetime", None),
    "boolean": ("boolean", None),
}

# Standard forms (Table Schema patterns are anchored at both ends).
KIND_PATTERNS = {
    "resident_id": r"[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[0-9X]",  # GB 11643
    "uscc": r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}",  # GB 32100
    "mobile": r"1[3-9]\d{9}",
    "division_code": r"\d{6}(\d{3}(\d{3})?)?",  # GB/T 2260 and statistical codes
    "postal_code": r"\d{6}",
}


def _constraints(ftype: str, rule: dict[str, Any], unique: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.get("required"):
        out["required"] = True
    if unique:
        out["unique"] = True
    if rule.get("enum"):
        out["enum"] = list(rule["enum"])
    if ftype == "string":
        pattern = rule.get("pattern") or KIND_PATTERNS.get(rule.get("kind", ""))
        if pattern:
            out["pattern"] = pattern
        if rule.get("min_length") is not None:
            out["minLength"] = rule["min_length"]
        if rule.get("max_length") is not None:
            out["maxLength"] = rule["max_length"]
    elif ftype in ("integer", "number", "date"):
        for key, name in (("min", "minimum"), ("max", "maximum")):
            if rule.get(key) is not None:
                value = rule[key]
                out[name] = int(value) if ftype == "integer" else value
    return out


def table_schema(spec: dict[str, Any]) -> dict[str, Any]:
    rules = spec.get("rules") or {}
    by_name = {c["name"]: c for c in rules.get("columns", [])}
    keys = [list(k) for k in rules.get("unique_keys", []) if k]
    single = {k[0] for k in keys if len(k) == 1}
    fields = []
    for item in spec["items"]:
        ftype, fmt = TYPES[item.get("type", "string")]
        rule = by_name.get(item["name"], {})
        field: dict[str, Any] = {"name": item["name"], "title": item["name"], "type": ftype}
        if fmt:
            field["format"] = fmt
        if rule.get("kind") == "email" and ftype == "string":
            field["format"] = "email"
        if item.get("description"):
            field["description"] = item["description"]
        constraints = _constraints(ftype, rule, item["name"] in single)
        if constraints:
            field["constraints"] = constraints
        field["x-sensitivity"] = item.get("sensitivity", "L1")
        field["x-personal"] = bool(item.get("personal"))
        if rule.get("kind"):
            field["x-kind"] = rule["kind"]
        if isinstance(rule.get("mask"), dict):
            field["x-mask"] = rule["mask"].get("method")
        fields.append(field)
    schema: dict[str, Any] = {"fields": fields}
    if keys:
        schema["primaryKey"] = keys[0]
    return schema


def data_package(resource: ResourcePublic) -> dict[str, Any]:
    spec = resource.spec
    return {
        "profile": "data-package",
        "name": resource.name,
        "id": resource.code or f"urn:yiwang:catalog:{resource.name}",
        "title": spec["title"],
        "description": spec["abstract"],
        "version": f"{resource.version or 0}.0.0",
        **({"created": resource.published_at.isoformat()} if resource.published_at else {}),
        "keywords": [part.strip() for part in resource.classification_label.split("›")],
        "contributors": [
            {"title": resource.provider.name, "role": "publisher", "organization": resource.provider.name}
        ],
        "resources": [
            {
                "name": resource.name,
                "title": spec["title"],
                "path": f"{resource.name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": table_schema(spec),
            }
        ],
        "x-catalog": {
            "code": resource.code,
            "classification": spec["classification"],
            "provider": resource.provider.name,
            "provider_code": resource.provider.credit_code,
            "format": spec["format"],
            "share": spec["share"],
            "open": spec.get("open", {}),
            "update_cycle": spec["update_cycle"],
            "publish_date": spec.get("publish_date"),
            "related": spec.get("related", []),
            "version": resource.version,
            "rules_version": resource.rules_version,
        },
    }
