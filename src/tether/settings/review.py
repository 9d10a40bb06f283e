"""``[review]``: the human hand-off queue: which outcomes open an item, where promotions go."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReviewSettings(BaseModel):
    """The human hand-off queue (store/reviews.py)."""

    #: Open a review item when an answer falls into one of ``sources`` (engine.hand_off).
    auto_create: bool = True
    #: Which outcomes open an item automatically: abstention, low_confidence, budget_refusal.
    sources: list[str] = Field(default_factory=lambda: ["abstention", "budget_refusal"])
    #: Golden file that `tether review promote` appends to (empty: <data_dir>/golden/reviewed.yaml).
    golden_path: str = ""
