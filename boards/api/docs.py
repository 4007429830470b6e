"""The API's description: the OpenAPI document and the readable reference built from it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from boards.api.auth import (
    error,
)
from boards.api.openapi import openapi_schema


def openapi_json(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return error("Use GET.", 405)
    server = request.build_absolute_uri(reverse("api-root")).rstrip("/")
    return JsonResponse(openapi_schema(server), json_dumps_params={"indent": 1})


def reference(request: HttpRequest) -> HttpResponse:
    """The API reference, a readable page built from the OpenAPI description."""
    server = request.build_absolute_uri(reverse("api-root")).rstrip("/")
    schema = openapi_schema(server)
    operations = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            shared = schema["components"]["parameters"]
            params = [shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p for p in params]
            operations.append({"method": method.upper(), "path": path, "op": op, "params": params})
    return render(request, "boards/api_reference.html", {"schema": schema, "operations": operations, "server": server})
