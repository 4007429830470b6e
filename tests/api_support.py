"""Helpers for the API tests: a thin client that sends the key and speaks JSON."""

from __future__ import annotations

import json
from urllib.parse import urlencode


class Api:
    def __init__(self, client, key: str | None, *, bearer: bool = False):
        self.client = client
        self.key = key
        self.bearer = bearer

    def _url(self, path: str, params: dict | None) -> str:
        query = dict(params or {})
        if self.key and not self.bearer:
            query["api_key"] = self.key
        url = "/api" + path
        return f"{url}?{urlencode(query, doseq=True)}" if query else url

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"} if self.key and self.bearer else {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(self._url(path, params), headers=self._headers())

    def post(self, path: str, body=None, params: dict | None = None):
        data = body if isinstance(body, str | bytes) else json.dumps(body if body is not None else {})
        return self.client.post(self._url(path, params), data, content_type="application/json", headers=self._headers())

    def delete(self, path: str, body=None, params: dict | None = None):
        return self.client.delete(
            self._url(path, params), json.dumps(body or {}), content_type="application/json", headers=self._headers()
        )

    def upload(self, project: str, file, params: dict | None = None, **fields):
        return self.client.post(
            self._url(f"/dataset/{project}/upload", params), {"file": file, **fields}, headers=self._headers()
        )


def error_of(response) -> dict:
    """The error object of an API error answer, after checking its shape."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type"}, body
    return body["error"]


VOC = """<annotation>
  <filename>{filename}</filename>
  <size><width>{width}</width><height>{height}</height><depth>3</depth></size>
  <object><name>{label}</name><bndbox><xmin>4</xmin><ymin>6</ymin><xmax>24</xmax><ymax>30</ymax></bndbox></object>
</annotation>
"""


def voc(label: str = "car", *, filename: str = "photo.jpg", width: int = 64, height: int = 48) -> str:
    return VOC.format(label=label, filename=filename, width=width, height=height)
