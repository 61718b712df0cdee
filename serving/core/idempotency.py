"""`Idempotency-Key` on creating POSTs: the first response is stored and replayed for retries.

The key row is inserted in the same transaction as the created record, so a concurrent retry
blocks on the unique key until the first request commits, then replays its response.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Integer, Text, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from serving.core.db import Base
from serving.core.deps import CurrentPrincipal, DbSession
from serving.core.errors import ValidationFailed
from serving.core.principal import Principal

MAX_KEY_LENGTH = 255


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    principal_key: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class Idempotency:
    def __init__(self, *, key: str | None, request: Request, db_session: Session, principal: Principal) -> None:
        self.key = key
        self.request = request
        self.db_session = db_session
        self.principal = principal

    def run(
        self, create: Callable[[], Any], *, payload: Any = None, status_code: int = 201,
        redact: Collection[str] = (),
    ) -> JSONResponse:
        """Call `create` once per key; replays the stored response for a repeated key.

        Top-level fields named in `redact` (secrets shown once) are stored, and replayed, as null.
        """
        if not self.key:
            return self._respond(create(), status_code)
        if len(self.key) > MAX_KEY_LENGTH:
            raise ValidationFailed("Idempotency-Key is too long", details={"field": "Idempotency-Key",
                                                                            "maxLength": MAX_KEY_LENGTH})
        ident = {
            "organization_id": self.principal.organization_id,
            "principal_key": f"key:{self.principal.api_key_id}" if self.principal.api_key_id
            else f"user:{self.principal.user_id}",
            "key": self.key,
        }
        request_hash = _request_hash(self.request.method, self.request.url.path, payload)
        inserted = self.db_session.execute(
            insert(IdempotencyRecord)
            .values(**ident, method=self.request.method, path=self.request.url.path, request_hash=request_hash)
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key)
        ).first()
        if inserted is None:
            stored = self.db_session.scalars(
                select(IdempotencyRecord).filter_by(**ident).execution_options(populate_existing=True)
            ).one()
            if stored.request_hash != request_hash or stored.path != self.request.url.path:
                raise ValidationFailed(
                    "Idempotency-Key was already used with a different request",
                    code="IDEMPOTENCY_KEY_REUSED", details={"field": "Idempotency-Key"},
                )
            return JSONResponse(stored.response_body, status_code=stored.status_code or 200,
                                headers={"Idempotent-Replayed": "true"})
        response = self._respond(create(), status_code)
        record = self.db_session.get(IdempotencyRecord, tuple(ident.values()))
        record.status_code = status_code
        body = json.loads(response.body)
        if isinstance(body, dict):
            body = {k: (None if k in redact else v) for k, v in body.items()}
        record.response_body = body
        return response

    @staticmethod
    def _respond(result: Any, status_code: int) -> JSONResponse:
        return JSONResponse(jsonable_encoder(result, by_alias=True), status_code=status_code)


def _request_hash(method: str, path: str, payload: Any) -> str:
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json(exclude_unset=True)
    else:
        body = json.dumps(jsonable_encoder(payload), sort_keys=True)
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def _idempotency(request: Request, db: DbSession, principal: CurrentPrincipal) -> Idempotency:
    return Idempotency(
        key=request.headers.get("idempotency-key"), request=request, db_session=db, principal=principal
    )


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
