"""What a request body means to the predictor (by its Content-Type), and how
what the predictor returns is answered (JSON, text, bytes or a Response)."""

import json


def _json_default(obj):
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if tolist is not None:
        return tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", "replace")
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default)
encode_json = _ENCODER.encode

CT_JSON = b"Content-Type: application/json\r\n"
CT_TEXT = b"Content-Type: text/plain; charset=utf-8\r\n"
CT_BYTES = b"Content-Type: application/octet-stream\r\n"


def error_body(message, error_id=None):
    obj = {"error": message}
    if error_id is not None:
        obj["error_id"] = error_id
    return encode_json(obj).encode()


def decode_payload(headers, body):
    """The predictor's payload for a request body, by its Content-Type: (payload, None),
    or (None, a 400 answer) when the body does not decode."""
    ctype = headers.get(b"content-type")
    if ctype is None:
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = bytes(body)
        else:
            payload = None
    else:
        mime = ctype.split(b";", 1)[0].strip().lower()
        if mime == b"application/json" or mime.endswith(b"+json"):
            if body:
                try:
                    payload = json.loads(body)
                except ValueError as exc:
                    return None, (400, CT_JSON, error_body("invalid JSON body: %s" % exc))
            else:
                payload = None
        elif mime == b"text/plain":
            charset = "utf-8"
            for param in ctype.split(b";")[1:]:
                k, _, v = param.strip().partition(b"=")
                if k.lower() == b"charset" and v:
                    charset = v.strip(b"\"'").decode("latin-1")
            try:
                payload = bytes(body).decode(charset)
            except (LookupError, UnicodeDecodeError) as exc:
                return None, (400, CT_JSON, error_body("cannot decode text/plain body: %s" % exc))
        else:
            payload = bytes(body)
    return payload, None


def encode_result(result, report_exception):
    """(status, Content-Type header line, body) for what predict returned."""
    try:
        t = type(result)
        if t is dict or t is list:
            return 200, CT_JSON, encode_json(result).encode()
        if t is str:
            return 200, CT_TEXT, result.encode("utf-8")
        if t is bytes:
            return 200, CT_BYTES, result
        if isinstance(result, (bytearray, memoryview)):
            return 200, CT_BYTES, bytes(result)
        if isinstance(result, str):
            return 200, CT_TEXT, str(result).encode("utf-8")
        if hasattr(result, "status_code") and hasattr(result, "body"):
            return _response_object(result)
        return 200, CT_JSON, encode_json(result).encode()
    except Exception as exc:  # noqa: BLE001
        error_id = report_exception(exc, "encoding the response")
        return 500, CT_JSON, error_body("%s: %s" % (type(exc).__name__, exc), error_id)


def _response_object(result):
    """A Starlette-like Response (status_code, body, media_type / headers)."""
    status = int(result.status_code)
    body = result.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = bytes(body or b"")
    ctype = None
    hdrs = getattr(result, "headers", None)
    if hdrs is not None:
        try:
            ctype = hdrs.get("content-type")
        except Exception:  # noqa: BLE001
            ctype = None
    if not ctype:
        ctype = getattr(result, "media_type", None) or "application/octet-stream"
    return status, ("Content-Type: %s\r\n" % ctype).encode("latin-1"), body
