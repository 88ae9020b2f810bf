"""``tables.<t>.generate``: what a table's published rows are steered to, beyond a copy.

rebalance    ``{column, shares: {value: share}}``: those shares of a categorical column in the
             published rows; its other values share the rest as they do in the real rows, and every
             other column follows its distribution given the rebalanced one.
conditions   ``[{values: {column: value or [low, high]}, rows: N}]``: N rows with those values (a
             numeric or datetime column may take a range), the rest of each row drawn given them; the
             other rows are not conditioned. Condition rows come first in the release's row order.
fairness     ``{target, sensitive: [column]}``: the target independent of the sensitive columns
             (statistical parity), its overall shares kept (or a rebalance's, of the same column);
             the other columns drawn given both.
impute       ``[column]``: no null is drawn in those columns; their values are drawn given the
             columns visited before them.
temperature  a number above 0: how freely a backend that samples from predicted probabilities
             draws (1: as learned; above 1: rarer values more often, more diverse rows; below 1:
             the likeliest values more often). Only a backend declaring it honours it (tabular_argn);
             the gates judge the rows as they would uncontrolled ones, so a high temperature may fail
             a fidelity gate: that is the gates telling what it cost.

The shapes are checked here, when the spec loads; the columns and values against the source (and
whether the table's synthesizer kind supports a control) by the profile step, before any fit
(``steps/preflight.py``). Plain data: ``doc()`` is what the sampler and the release record carry.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

SHARE_SLACK = 1e-9  # shares written as decimals may add up to 1 plus a rounding


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rebalance(_Frozen):
    column: str = Field(description="a categorical (or boolean) learned column")
    shares: dict[Any, float] = Field(
        description="value -> its share of the published rows (each in [0, 1], together at most 1); "
        "the column's other values share the rest in their real proportions"
    )

    @field_validator("shares")
    @classmethod
    def _shares(cls, shares: dict) -> dict:
        if not shares:
            raise ValueError("name at least one value")
        bad = [str(v) for v, share in shares.items() if not 0 <= share <= 1]
        if bad:
            raise ValueError(f"a share is between 0 and 1 (value {', '.join(bad)})")
        if sum(shares.values()) > 1 + SHARE_SLACK:
            raise ValueError(f"the shares add up to {sum(shares.values()):g}, more than 1")
        return shares


class Condition(_Frozen):
    values: dict[str, Any] = Field(description="column -> a value, or [low, high] for a number or datetime")
    rows: int = Field(gt=0, description="rows of the release drawn with these values")

    @field_validator("values")
    @classmethod
    def _values(cls, values: dict) -> dict:
        if not values:
            raise ValueError("name at least one column")
        for column, value in values.items():
            if isinstance(value, (list, tuple)):
                if len(value) != 2 or any(v is None or isinstance(v, (list, dict, bool)) for v in value):
                    raise ValueError(f"{column}: a range is [low, high]")
                try:
                    ordered = value[0] <= value[1]
                except TypeError:
                    raise ValueError(f"{column}: a range's ends are two numbers or two datetimes") from None
                if not ordered:
                    raise ValueError(f"{column}: the range's low end is above its high end")
            elif value is None or isinstance(value, dict):
                raise ValueError(f"{column}: expected a value or [low, high]")
        return values


class Fairness(_Frozen):
    target: str = Field(description="a categorical (or boolean) learned column: the outcome")
    sensitive: tuple[str, ...] = Field(min_length=1, description="categorical columns the outcome must not depend on")

    @field_validator("sensitive")
    @classmethod
    def _apart(cls, sensitive: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if info.data.get("target") in sensitive:
            raise ValueError(f"column {info.data['target']!r} is the target")
        repeated = sorted({c for c in sensitive if sensitive.count(c) > 1})
        if repeated:
            raise ValueError(f"column {', '.join(map(repr, repeated))} named twice")
        return sensitive


class TableGenerate(_Frozen):
    rebalance: Rebalance | None = Field(None, description="shares of a categorical column's values")
    fairness: Fairness | None = Field(
        None, description="the target independent of the sensitive columns (statistical parity)"
    )
    conditions: tuple[Condition, ...] = Field((), description="rows drawn with given values")
    impute: tuple[str, ...] = Field((), description="columns drawn without nulls")
    temperature: float | None = Field(
        None, gt=0, le=10, description="sampling temperature, for a backend that declares it (1: as learned)"
    )

    @model_validator(mode="after")
    def _distinct(self) -> TableGenerate:
        repeated = sorted({c for c in self.impute if self.impute.count(c) > 1})
        if repeated:
            raise ValueError(f"impute: column {', '.join(map(repr, repeated))} named twice")
        if self.rebalance is not None and self.conditions:
            # one visit order cannot put both first: the rebalanced column must precede every other
            # column for its shares to carry the rest, a condition's columns must for its rows
            raise ValueError("conditions: not combined with rebalance in one table (generate twice instead)")
        if self.fairness is not None and self.conditions:
            raise ValueError("conditions: not combined with fairness in one table (generate twice instead)")
        if self.fairness is not None and self.rebalance is not None:
            if self.rebalance.column != self.fairness.target:
                raise ValueError("rebalance: with fairness, only the fairness target can be rebalanced")
            if self.rebalance.column in self.fairness.sensitive:
                raise ValueError("rebalance: a sensitive column cannot be rebalanced")
        return self

    @property
    def controls(self) -> list[str]:
        """The controls asked for, by field name."""
        return [
            name
            for name, asked in (
                ("rebalance", self.rebalance is not None),
                ("fairness", self.fairness is not None),
                ("conditions", bool(self.conditions)),
                ("impute", bool(self.impute)),
                ("temperature", self.temperature is not None),
            )
            if asked
        ]

    @property
    def needed(self) -> set[str]:
        """What a backend's ``Capabilities.controls`` must name to honour these: the controls, and
        ``ranges`` when a condition gives a range."""
        ranges = any(isinstance(v, (list, tuple)) for c in self.conditions for v in c.values.values())
        return set(self.controls) | ({"ranges"} if ranges else set())

    def doc(self) -> dict:
        """Plain data (values as given): what the model, the sampler and the release record carry."""
        return self.model_dump(exclude_defaults=True)


def controlled_columns(doc: dict) -> list[str]:
    """The columns a model visits first under the controls ``doc`` (``TableGenerate.doc()``): the
    rebalanced one, then the conditioned ones."""
    first = []
    if doc.get("fairness"):  # the sensitive columns, then the target drawn apart from them
        first += [*doc["fairness"]["sensitive"], doc["fairness"]["target"]]
    if doc.get("rebalance") and doc["rebalance"]["column"] not in first:
        first.append(doc["rebalance"]["column"])
    for condition in doc.get("conditions", ()):
        first += [c for c in condition["values"] if c not in first]
    return first


def describe(doc: dict) -> str:
    """The controls in words, column names and counts only (catalogs and logs: never a value)."""
    parts = []
    if doc.get("fairness"):
        fairness = doc["fairness"]
        parts.append(f"fairness: {fairness['target']} independent of {', '.join(fairness['sensitive'])}")
    if doc.get("rebalance"):
        shares = doc["rebalance"]["shares"]
        parts.append(f"rebalance {doc['rebalance']['column']} ({len(shares)} value(s) set)")
    for condition in doc.get("conditions", ()):
        parts.append(f"condition on {', '.join(condition['values'])} ({condition['rows']} rows)")
    if doc.get("impute"):
        parts.append(f"impute {', '.join(doc['impute'])}")
    if doc.get("temperature") is not None:
        parts.append(f"temperature {doc['temperature']:g}")
    return "; ".join(parts)
