"""Validation of LINE message objects and request bodies against LINE's schema.

The schema is LINE's published OpenAPI description (`bot/schemas/`, vendored
with its licence), so a reply that passes here is one LINE's API takes. Every
error names the field it concerns, in the dotted form an editor can point at
(`messages[0].quickReply.items[2].action.label`), because admins fix rules
from these messages and must not have to guess which part is wrong.

OpenAPI chooses a message, action or flex component by its `type` through a
`discriminator`, which JSON Schema does not know; `_load` turns each
discriminator into a keyword of our own that picks the mapped schema.
"""

import copy
import json
import logging
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

log = logging.getLogger(__name__)

SCHEMA_FILE = Path(__file__).parent / "schemas" / "messaging-api.schemas.json"

#: LINE takes 1 to 5 message objects per reply or push.
MAX_MESSAGES = 5

#: Limits LINE documents (developers.line.biz, Messaging API reference) that the
#: OpenAPI file leaves out; without them LINE would refuse a rule at send time
#: that we had accepted at save time.
DOCUMENTED_LIMITS = {
    ("TextMessage", "text"): {"minLength": 1, "maxLength": 5000},
    ("TextMessageV2", "text"): {"minLength": 1, "maxLength": 5000},
    ("FlexMessage", "altText"): {"minLength": 1, "maxLength": 1500},
    ("TemplateMessage", "altText"): {"minLength": 1, "maxLength": 400},
    ("ImagemapMessage", "altText"): {"minLength": 1, "maxLength": 1500},
    ("QuickReply", "items"): {"minItems": 1},
}
QUICK_REPLY_LABEL = 20
DOCUMENTED_REQUIRED = {
    "QuickReply": ["items"],
    "QuickReplyItem": ["action"],
    "PostbackAction": ["data"],
    "MessageAction": ["text"],
    "URIAction": ["uri"],
}

#: Suffix of the copy of a discriminator schema that `allOf` inherits from.
BASE = "~base"
REF_PREFIX = "#/components/schemas/"


def validate_messages(messages, field: str = "messages") -> list[dict]:
    """Errors in a list of message objects; an empty list means LINE takes them.

    Each error is `{"field": "messages[0].text", "message": "..."}`. Checks the
    count (1 to 5) and each object against the schema its `type` selects.
    """
    if not isinstance(messages, list):
        return [_error(field, "must be a list of 1 to 5 message objects")]
    if not 1 <= len(messages) <= MAX_MESSAGES:
        return [
            _error(
                field,
                f"must hold 1 to {MAX_MESSAGES} message objects, got {len(messages)}",
            )
        ]

    errors = []
    for index, message in enumerate(messages):
        place = f"{field}[{index}]"
        errors += validate_schema("Message", message, place) or https_errors(
            message, place
        )
    return errors


#: Media addresses LINE takes over HTTPS only (its OpenAPI file says just
#: `format: uri`; its documentation says HTTPS), so a desk that saved an
#: http:// address would learn of it only when LINE refuses the send.
HTTPS_FIELDS = {
    "image": ("originalContentUrl", "previewImageUrl"),
    "video": ("originalContentUrl", "previewImageUrl"),
    "audio": ("originalContentUrl",),
    "imagemap": ("baseUrl",),
}


def https_errors(message, field: str) -> list[dict]:
    """Errors for media addresses of `message` that are not https://."""
    if not isinstance(message, dict):
        return []
    errors = []
    for name in HTTPS_FIELDS.get(message.get("type"), ()):
        value = message.get(name)
        if isinstance(value, str) and not value.lower().startswith("https://"):
            errors.append(_error(f"{field}.{name}", "must be a valid HTTPS URL"))
    return errors


def validate_schema(schema_name: str, instance, field: str = "") -> list[dict]:
    """Errors in `instance` against LINE's schema `schema_name`.

    For whole request bodies, e.g. "ReplyMessageRequest" or "PushMessageRequest".
    Raises KeyError for a schema name LINE's file does not define.
    """
    validator = _validator(schema_name)
    found = sorted(
        validator.iter_errors(instance), key=lambda e: list(map(str, e.path))
    )
    # One error per field: a missing `type` is reported by both `required`
    # and the discriminator, whose wording (it lists the choices) is kept.
    errors = {}
    for error in found:
        item = _describe(error, field)
        if item["field"] not in errors or error.validator == "discriminator":
            errors[item["field"]] = item
    return list(errors.values())


def schema_names() -> list[str]:
    """The names of every schema LINE's file defines."""
    return sorted(name for name in _schemas() if not name.endswith(BASE))


def _error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def _describe(error: ValidationError, field: str) -> dict:
    """One jsonschema error as `{"field", "message"}` in our dotted form."""
    path = field
    for part in error.absolute_path:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)

    if error.validator == "required":
        missing = [
            name
            for name in error.validator_value
            if isinstance(error.instance, dict) and name not in error.instance
        ]
        return _error(_join(path, missing[0]) if missing else path, "is required")
    if error.validator == "discriminator":
        return _error(_join(path, error.validator_value["propertyName"]), error.message)
    return _error(path or field, _wording(error))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else str(name)


def _wording(error: ValidationError) -> str:
    """Messages that read as sentences about the field, not about the schema."""
    kind, value = error.validator, error.validator_value
    if kind == "type":
        return f"must be of type {value}, got {type(error.instance).__name__}"
    if kind == "maxLength":
        return f"must be at most {value} characters long"
    if kind == "minLength":
        return f"must be at least {value} characters long"
    if kind == "maxItems":
        return f"must hold at most {value} items"
    if kind == "minItems":
        return f"must hold at least {value} items"
    if kind == "enum":
        return "must be one of " + ", ".join(map(repr, value))
    if kind == "format":
        return f"must be a valid {value}, got {error.instance!r}"
    if kind in ("maximum", "minimum"):
        return f"must be {'at most' if kind == 'maximum' else 'at least'} {value}"
    return error.message


def _discriminator(validator, value, instance, schema):
    """Validate `instance` against the schema its `propertyName` selects."""
    if not isinstance(instance, dict):
        return  # the schema's own `type: object` reports it
    name = value["propertyName"]
    chosen = instance.get(name)
    mapping = value["mapping"]
    if chosen not in mapping:
        choices = ", ".join(sorted(mapping))
        if chosen is None:
            message = f"is required (one of {choices})"
        else:
            message = f"unknown {name} {chosen!r}; expected one of {choices}"
        yield ValidationError(message)
        return
    yield from validator.descend(instance, {"$ref": mapping[chosen]})


_format_checker = FormatChecker(formats=())


@_format_checker.checks("uri", raises=ValueError)
def _is_uri(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.scheme in ("tel", "line")))


_Validator = jsonschema.validators.extend(
    Draft202012Validator, {"discriminator": _discriminator}
)


@cache
def _schemas() -> dict:
    return _load(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _load(document: dict) -> dict:
    """LINE's schemas with discriminators made checkable and documented limits.

    A schema with a discriminator gets a `~base` copy without it; `allOf`
    references (inheritance) point at the copy, so that TextMessage inheriting
    from Message does not dispatch back to TextMessage.
    """
    schemas = copy.deepcopy(document["components"]["schemas"])
    bases = [name for name, schema in schemas.items() if "discriminator" in schema]
    for name in bases:
        base = {k: v for k, v in schemas[name].items() if k != "discriminator"}
        schemas[name + BASE] = base
    for schema in schemas.values():
        for part in schema.get("allOf", []):
            target = part.get("$ref", "").removeprefix(REF_PREFIX)
            if target in bases:
                part["$ref"] = REF_PREFIX + target + BASE

    for (name, prop), limits in DOCUMENTED_LIMITS.items():
        _properties(schemas[name])[prop].update(limits)
    # A quick reply button shows at most 20 characters; LINE refuses longer.
    action = schemas["QuickReplyItem"]["properties"]["action"]
    schemas["QuickReplyItem"]["properties"]["action"] = {
        "allOf": [action, {"properties": {"label": {"maxLength": QUICK_REPLY_LABEL}}}]
    }
    for name, required in DOCUMENTED_REQUIRED.items():
        schema = schemas[name]
        schema["required"] = sorted(set(schema.get("required", [])) | set(required))
    return schemas


def _properties(schema: dict) -> dict:
    """The `properties` a schema declares itself (directly or in its allOf)."""
    if "properties" in schema:
        return schema["properties"]
    for part in schema.get("allOf", []):
        if "properties" in part:
            return part["properties"]
    raise KeyError("schema declares no properties")


@cache
def _validator(schema_name: str):
    schemas = _schemas()
    if schema_name not in schemas:
        raise KeyError(f"LINE's schema defines no {schema_name!r}")
    root = {"$ref": REF_PREFIX + schema_name, "components": {"schemas": schemas}}
    return _Validator(root, format_checker=_format_checker)
