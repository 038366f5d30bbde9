"""The event-state transcoder: the library's JSON format, decoded with orjson.

Stored states are the library's `JSONTranscoder` output, typed values wrapped as
`{"_type_": name, "_data_": ...}`. The library decodes with the standard `json` module and an
`object_hook` called for every object; that was a third of decoding an event, and decoding is
most of a rebuild. Here orjson parses, and only the wrappers are turned back into values: a
wrapper key `"_type_":` can only appear in the bytes as a key (inside a string its quotes are
escaped), so counting it says whether anything below the top level needs a walk. Encoding is
unchanged, so every stored event, old or new, reads the same. What orjson refuses (NaN,
integers beyond 64 bits, which the standard module writes and reads) falls back to the library.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

_MARK = b'"_type_":'


class FastJSONTranscoder(JSONTranscoder):
    def decode(self, data: bytes) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)
        marks = data.count(_MARK)
        if not marks:
            return value
        if type(value) is dict:
            for name, item in value.items():
                if type(item) is dict and len(item) == 2 and "_type_" in item and \
                        type(item.get("_data_")) not in (dict, list):
                    value[name] = self._revive(item)
                    marks -= 1
        return self._walk(value) if marks > 0 else value

    def _walk(self, value: Any) -> Any:
        """Children first, as `object_hook` sees them."""
        if type(value) is dict:
            for name, item in value.items():
                if type(item) in (dict, list):
                    value[name] = self._walk(item)
            return self._revive(value) if len(value) == 2 and "_type_" in value else value
        if type(value) is list:
            return [self._walk(item) if type(item) in (dict, list) else item for item in value]
        return value

    def _revive(self, wrapper: dict[str, Any]) -> Any:
        if "_data_" not in wrapper:
            return wrapper
        try:
            transcoding = self.names[wrapper["_type_"]]
        except (KeyError, TypeError) as e:
            raise TranscodingNotRegisteredError(
                f"Data serialized with name {wrapper['_type_']!r} is not deserializable. "
                "Please register a custom transcoding for this type.") from e
        return transcoding.decode(wrapper["_data_"])
