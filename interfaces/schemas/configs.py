"""Request/response models of /api/v1/configs/banners (0.12.4's BannerModel)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from interfaces import bounds
from interfaces.schemas.json_limits import JSONObject

BANNERS_MAX = 100  # not in reference
BANNER_TEXT_MAX = 10_000  # not in reference

ShortText = Annotated[str, StringConstraints(max_length=255)]
Text = Annotated[str, StringConstraints(max_length=BANNER_TEXT_MAX)]


class BannerModel(BaseModel):
    i18n: dict[ShortText, dict[ShortText, Text]] | None = None  # locale → field → text
    id: ShortText
    type: ShortText  # "info", "success", "warning", "error"
    title: Text | None = None
    content: Text
    dismissible: bool
    timestamp: bounds.Epoch


class SetBannersForm(BaseModel):
    banners: list[BannerModel] = Field(max_length=BANNERS_MAX)


SUGGESTIONS_MAX = 100  # not in reference


class PromptSuggestion(BaseModel):
    title: list[Text] = Field(max_length=10)  # the title, then its subtitle
    content: Text


class SetDefaultSuggestionsForm(BaseModel):
    """POST /configs/suggestions: the prompt suggestions a new chat offers (admins)."""

    suggestions: list[PromptSuggestion] | None = Field(max_length=SUGGESTIONS_MAX)
    i18n: JSONObject | None = None  # locale → translated suggestions


class InterfaceVisibilityForm(BaseModel):
    """POST /configs/interface/visibility: which parts of the app's interface show."""

    visibility: dict[ShortText, StrictBool]
