"""Declared governance rules of one resource (信息资源): columns, checks, keys and masks.

Rules are plain data: a Pydantic model loadable from a dict or YAML and serialisable back, so
the catalog can store and version them (the caller owns the version number). Keys for
pseudonyms and encryption are never part of the rules; masks name a ``key_id`` and the caller
supplies the key at run time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

DataType = Literal["string", "int", "decimal", "date", "bool"]
Kind = Literal[
    "text",
    "person_name",
    "resident_id",
    "uscc",
    "phone",
    "mobile",
    "landline",
    "date",
    "gender",
    "division_code",
    "enum",
    "address",
    "ethnic_group",
    "email",
    "postal_code",
    "number",
]
CrossRule = Literal["id_birthdate_match", "id_gender_match", "not_after", "not_before", "required_with"]
CROSS_FIELD_RULES = frozenset(get_args(CrossRule))
UpdateCycle = Literal[
    "realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly", "irregular"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeepMask(_Strict):
    """Share the value as it is (an explicit choice, also for sensitive kinds)."""

    method: Literal["keep"] = "keep"


class KeepEndsMask(_Strict):
    """Keep the first ``first`` and last ``last`` characters: ID 6+4, mobile 3+4."""

    method: Literal["keep_ends"] = "keep_ends"
    first: int = 0
    last: int = 0
    char: str = "*"


class SurnameMask(_Strict):
    """Keep the surname (two characters for compound surnames such as 欧阳), mask the rest."""

    method: Literal["surname"] = "surname"
    char: str = "*"


class AddressMask(_Strict):
    """Keep an address up to the first community / village marker (or a coarser level)."""

    method: Literal["truncate_address"] = "truncate_address"
    level: Literal["community", "town", "county"] = "community"
    keywords: list[str] | None = None  # overrides the level's markers, e.g. ["小区", "社区"]
    fallback: Literal["suppress", "keep_town", "keep_county", "keep"] = "suppress"

    @model_validator(mode="after")
    def _markers_fit(self) -> AddressMask:
        if self.keywords and (not all(self.keywords) or len(set(self.keywords)) > 64):
            raise ValueError("truncate_address keywords: at most 64 distinct, none empty")
        return self


class DateMask(_Strict):
    """Generalise a date to its year or year-month."""

    method: Literal["generalise_date"] = "generalise_date"
    to: Literal["year", "year_month"] = "year"


class AgeBandMask(_Strict):
    """Replace a birth date by an age band (e.g. ``30-39``) at a reference date."""

    method: Literal["age_band"] = "age_band"
    width: int = Field(10, gt=0)
    top: int = Field(80, ge=0)  # ages >= top share one band "80+"
    reference_date: str | None = None  # ISO date; default: the load date


class PseudonymMask(_Strict):
    """Keyed pseudonym: hex HMAC-SM3 of the normalised value; same value + key → same pseudonym."""

    method: Literal["pseudonym"] = "pseudonym"
    key_id: str = "default"
    length: int = Field(64, ge=1, le=64)  # hex characters kept


class EncryptMask(_Strict):
    """SM4 encryption, reversible with the key for entitled use."""

    method: Literal["encrypt"] = "encrypt"
    key_id: str = "default"


class SuppressMask(_Strict):
    """Remove the value (null), or drop the column from the share zone."""

    method: Literal["suppress"] = "suppress"
    drop: bool = False


MaskPolicy = Annotated[
    KeepMask
    | KeepEndsMask
    | SurnameMask
    | AddressMask
    | DateMask
    | AgeBandMask
    | PseudonymMask
    | EncryptMask
    | SuppressMask,
    Field(discriminator="method"),
]


class ColumnRule(_Strict):
    """One information item (信息项) of the resource."""

    name: str
    dtype: DataType = "string"
    kind: Kind = "text"
    required: bool = False
    enum: list[str] | None = None
    min: float | str | None = None  # numbers; ISO dates for date columns; the length for strings
    max: float | str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None  # a regular expression the normalised value must match fully
    allowed_codes: list[str] | None = None  # division_code: allowed codes (e.g. Kunshan's communities)
    code_levels: list[int] | None = None  # division_code: allowed lengths (6, 9, 12); default any
    decimal_scale: int = 2
    mask: MaskPolicy | None = None  # None = the default for the kind (see masking.default_mask)
    extra_masks: dict[str, MaskPolicy] = Field(default_factory=dict)  # more share columns from this one
    description: str | None = None

    @model_validator(mode="after")
    def _kind_fits(self) -> ColumnRule:
        if self.kind == "enum" and not self.enum:
            raise ValueError(f"column {self.name}: kind 'enum' needs enum values")
        if self.kind == "date" and self.dtype == "string":
            self.dtype = "date"
        return self


class CrossFieldRule(_Strict):
    """A check across columns; ``rule`` is the stable rule name reported in quarantine."""

    rule: CrossRule
    columns: list[str] = Field(min_length=2, max_length=2)
    description: str | None = None


class ResourceRules(_Strict):
    """Everything the engine needs to govern one load of a resource."""

    resource: str
    version: str | None = None
    columns: list[ColumnRule]
    unique_keys: list[list[str]] = Field(default_factory=list)
    cross_field: list[CrossFieldRule] = Field(default_factory=list)
    update_cycle: UpdateCycle = "irregular"
    freshness_column: str | None = None  # the date column that dates the data (for timeliness)
    quasi_identifiers: list[str] = Field(default_factory=list)  # for the k-anonymity report
    k_anonymity: int = 5
    unknown_columns: Literal["error", "ignore", "keep"] = "error"

    @model_validator(mode="after")
    def _names_exist(self) -> ResourceRules:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        known = set(names)
        refs = [c for key in self.unique_keys for c in key] + [c for r in self.cross_field for c in r.columns]
        refs += self.quasi_identifiers + ([self.freshness_column] if self.freshness_column else [])
        unknown = sorted(set(refs) - known)
        if unknown:
            raise ValueError(f"rules refer to unknown columns: {', '.join(unknown)}")
        return self

    def column(self, name: str) -> ColumnRule:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceRules:
        return cls.model_validate(data)

    @classmethod
    def from_yaml(cls, text: str) -> ResourceRules:
        import yaml

        return cls.model_validate(yaml.safe_load(text))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)
