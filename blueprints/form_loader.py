"""A marshmallow schema of a flat form, compiled into a fast loader with the same results and field errors.

Schema.load's machinery (hooks, unknown-field handling, the error store, validators rebuilt per call)
costs more than the checks of a Twilio form themselves. The schemas stay the source of truth:
FormLoader runs each field's own deserialization, validators and error messages, and refuses a schema
whose load would do more than that (hooks, schema validators, unknown=RAISE, nesting).
tests/webhooks_fast checks it against Schema.load on the same valid and invalid inputs.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields
from marshmallow.utils import missing
from marshmallow.validate import And


class FormLoader:
    """load(data) -> (loaded, errors): Schema.load(data)'s result, or its messages by data key."""

    def __init__(self, schema: Schema):
        if any(schema._hooks.values()) or schema.unknown != EXCLUDE or schema.many or schema.partial:
            raise TypeError(f"{type(schema).__name__}: only flat forms without hooks can be compiled")
        self.schema = schema
        self._fields = []
        for name, field in schema.load_fields.items():
            if isinstance(field, (fields.Nested, fields.List, fields.Dict)) or field.pre_load or field.post_load \
                    or any(getattr(type(field), step) is not getattr(fields.Field, step)
                           for step in ("deserialize", "_validate_missing", "_validate")):
                raise TypeError(f"{type(schema).__name__}.{name}: not a flat field")
            key = field.data_key if field.data_key is not None else name
            # Field.deserialize builds And(*validators) on every call: built once here.
            self._fields.append((key, field.attribute or name, field,
                                 And(*field.validators) if field.validators else None))

    def load(self, data: dict) -> tuple[dict, dict]:
        loaded, errors = {}, {}
        for key, attribute, field, validate in self._fields:
            value = data.get(key, missing)
            # What Field.deserialize does, step by step (these fields have no pre/post-load functions).
            if value is missing:
                if field.required:
                    errors[key] = field.make_error("required").messages
                    continue
                value = field.load_default
                if callable(value):
                    value = value()
                if value is not missing:
                    loaded[attribute] = value
                continue
            try:
                if value is None:   # a form never has one; Field.deserialize knows allow_none
                    value = field.deserialize(value, key, data)
                else:
                    value = field._deserialize(value, key, data)
                    if validate is not None:
                        validate(value)
            except ValidationError as exc:
                errors[key] = exc.messages
                continue
            loaded[attribute] = value
        return loaded, errors
