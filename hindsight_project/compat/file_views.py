"""``POST /v1/default/banks/{bank_id}/files/retain``: files as the official client's
``retain_files`` sends them (docs/api.md, "Files").

The body is multipart: one ``files`` part per file (file name and bytes) and a ``request`` part
holding a JSON string, ``{"files_metadata": [{"context", "document_id", "tags", "metadata",
"timestamp"}, ...]}`` with one entry per file (``parser`` choices are accepted and ignored: this
server has one extractor per format). Always asynchronous: the answer is the client's
``FileRetainResponse``, ``{"operation_ids": [id]}``, one ``file_retain`` operation for the
request. The work is ``banks.files.retain_files``, the native endpoint's service.
"""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from banks.files import retain_files
from operations.exceptions import InvalidInput

from .http import CompatAPIView
from .operation_serializers import CompatErrorSerializer, CompatValidationErrorSerializer

FILE_TAGS = ["Hindsight-compatible: files"]
_OPTIONS = ("context", "document_id", "tags", "metadata", "timestamp")


class CompatFileRetainRequestSerializer(serializers.Serializer):
    """Documents the multipart body; ``parse_request`` checks it."""

    files = serializers.ListField(child=serializers.FileField())
    request = serializers.CharField(help_text='JSON: {"files_metadata": [{...} per file]}')


class CompatFileRetainResponseSerializer(serializers.Serializer):
    operation_ids = serializers.ListField(child=serializers.CharField())


def _error(loc: str, message: str, kind: str = "value_error") -> ValidationError:
    return ValidationError({"body": {loc: [ErrorDetail(message, code=kind)]}})


def parse_request(raw: Any) -> list[dict[str, Any]] | None:
    """The per-file options of the ``request`` part (None when it names none)."""
    if raw in (None, ""):
        return None
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise _error("request", f"JSON decode error: {exc}", "json_invalid") from None
    if not isinstance(body, dict):
        raise _error("request", "Input should be a valid dictionary")
    entries = body.get("files_metadata")
    if entries is None:
        return None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _error("request", "files_metadata should be a list of objects")
    return [{key: entry.get(key) for key in _OPTIONS} for entry in entries]


class FileRetainView(CompatAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="compat_file_retain",
        tags=FILE_TAGS,
        request={"multipart/form-data": CompatFileRetainRequestSerializer},
        responses={200: CompatFileRetainResponseSerializer, 404: CompatErrorSerializer,
                   413: CompatErrorSerializer, 422: CompatValidationErrorSerializer},
    )
    def post(self, request: Request, bank_id: str) -> Response:
        """Upload files; each becomes a document whose text is split into memories, in one
        background ``file_retain`` operation."""
        files = request.FILES.getlist("files")
        if not files:
            raise _error("files", "Field required", "required")
        options = parse_request(request.data.get("request"))
        try:
            retained = retain_files(request, bank_id, files, options, run_async=True)
        except InvalidInput as exc:
            # The job names per-file option errors "files"; this surface calls them metadata.
            errors = exc.errors
            if "files" in errors and options is not None:
                errors = {"files_metadata": errors["files"]}
            raise ValidationError({"body": errors}) from None
        return Response({"operation_ids": [str(retained.operation.pk)]})
