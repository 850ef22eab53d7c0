"""Helpers shared by the REST handlers: form items, Twilio list pages, filters, event lists."""

from urllib.parse import urlencode


def flatten(items):
    """Form items as a dict; repeated keys become lists."""
    out = {}
    for k, v in items:
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


def page_of(items, params, key, path, page_filters):
    """A Twilio list page with first/next/previous page URIs."""
    page_size = max(1, min(1000, int(params.get("PageSize", 50))))
    page = max(0, int(params.get("Page", 0)))
    start = page * page_size
    chunk = items[start:start + page_size]

    def uri(n):
        query = dict(page_filters, PageSize=page_size, Page=n)
        if n:
            query["PageToken"] = f"PA{n}"
        return f"{path}?{urlencode(query)}"

    return {
        key: [i.to_json() for i in chunk],
        "end": start + len(chunk) - 1 if chunk else start,
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if start + page_size < len(items) else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": uri(page),
    }


def filters(params, names):
    return {n: params[n] for n in names if n in params}


def events(value):
    if value is None:
        return ("completed",)
    values = value if isinstance(value, list) else [value]
    return tuple(e for v in values for e in v.replace(",", " ").split())


def one(value):
    return value[-1] if isinstance(value, list) else value
