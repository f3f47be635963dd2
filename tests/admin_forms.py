"""Turn a rendered admin change form back into the POST data a browser would send."""

import datetime as dt


def _encode(value):
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def _add_form(data: dict, form) -> None:
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False or value == "":
            continue
        data[form.add_prefix(name)] = "on" if value is True else _encode(value)


def change_form_data(response) -> dict:
    """Return the POST data of the admin form in *response*, as currently filled in."""
    data: dict = {}
    _add_form(data, response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _add_form(data, formset.management_form)
        for form in formset.forms:
            _add_form(data, form)
    return data
