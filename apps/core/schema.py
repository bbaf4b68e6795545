"""OpenAPI: every operation documents the one error format (apps.core.api)."""

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer", "example": 400},
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string", "example": "Some fields are not valid."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "example": {"name": ["This field may not be blank."]},
                },
            },
        }
    },
}
_DESCRIPTIONS = {
    "400": "Bad input: `fields` names each field's problems.",
    "401": "Not signed in: send a token (`Authorization: Token …` or `Bearer …`).",
    "404": "No such object, or it belongs to a tenancy you are not a member of.",
    "404-page": "No such page (past the last one).",
    "409": "Not now: the object is busy or in the wrong state, or this would go over quota; `message` says which.",
    "413": "The body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    "429": "Too many bad API credentials from your address: wait `Retry-After` seconds.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = []
            query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            description = operation.get("description", "")
            if operation.get("security") and {} not in operation["security"]:
                codes += ["401", "429"]
            if "{" in path:
                codes.append("404")
            elif "page" in query:
                codes.append("404-page")
            if method in ("post", "put", "patch") or query or "400" in description:
                codes.append("400")  # a body, a query parameter (a filter, a page…), or as the view says
            if method in ("post", "put", "patch"):
                codes.append("413")
            if "202" in operation.get("responses", {}) or "409" in description:  # work, or as the view says
                codes.append("409")
            for code in codes:
                response = {"description": _DESCRIPTIONS[code], "content": ref}
                operation["responses"].setdefault(code.split("-")[0], response)
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):  # errors a view declares itself have the same shape
                    response.setdefault("content", ref)
    return result
