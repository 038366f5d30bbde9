"""The new routes' request and response models against Open WebUI 0.12.4's OpenAPI components:
the same fields, the same required ones, the same defaults (the reference file, when present)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from interfaces.schemas import auths, chats, configs, knowledge, search, users
from tests.interfaces.test_schemas_auths_users import schemas, wire_fields

__all__ = ["schemas"]  # the fixture, shared with the auths/users suite

# Chronicle's model -> (0.12.4's component, fields Chronicle adds on purpose)
COMPONENTS: dict[type[BaseModel], tuple[str, set[str]]] = {
    auths.AddUserForm: ("AddUserForm", set()),
    auths.AddUserResponse: ("AddUserResponse", set()),
    auths.UpdateTimezoneForm: ("UpdateTimezoneForm", set()),
    auths.MfaStatusResponse: ("MfaStatusResponse", set()),
    users.UserVariablesForm: ("UserVariablesForm", set()),
    users.UserVariablesResponse: ("UserVariablesResponse", set()),
    users.UserInfoByIdResponse: ("UserInfoResponse", set()),
    configs.BannerModel: ("BannerModel", set()),
    configs.SetBannersForm: ("SetBannersForm", set()),
    configs.PromptSuggestion: ("PromptSuggestion", set()),
    configs.SetDefaultSuggestionsForm: ("SetDefaultSuggestionsForm", set()),
    configs.InterfaceVisibilityForm: ("InterfaceVisibilityForm", set()),
    search.SearchResponse: ("SearchResponse", set()),
    search.SearchResult: ("SearchResult", set()),
    search.SearchScope: ("SearchScope", set()),
    knowledge.KnowledgeFileListResponse: ("KnowledgeFileListResponse", set()),
    knowledge.FileUserResponse: ("FileUserResponse", {"collection"}),  # /search/files' base
    knowledge.KnowledgeAccessListResponse: ("KnowledgeAccessListResponse", set()),
    # Chronicle's knowledge answers carry the seeds' `access_control` and the file list too.
    knowledge.KnowledgeAccessResponse: ("KnowledgeAccessResponse", {"access_control", "files"}),
    chats.SharedChatResponse: ("SharedChatResponse", set()),
}


@pytest.mark.parametrize("model", list(COMPONENTS), ids=lambda m: m.__name__)
def test_fields_match_0_12_4(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    name, added = COMPONENTS[model]
    component = schemas[name]
    ours, theirs = wire_fields(model), component.get("properties", {})
    assert set(ours) - added == set(theirs)
    required = {k for k, f in ours.items() if f.is_required()}
    # Chronicle may require less (it answers with every field), never more.
    assert required <= set(component.get("required", [])) | {"total"}, required
    for key, prop in theirs.items():
        if "default" in prop:
            assert ours[key].get_default(call_default_factory=True) == prop["default"], key
