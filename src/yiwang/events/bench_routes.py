"""The bare endpoint of ``yiwang bench events``: same app, middleware and form parsing as the
Open311 intake, but no validation against the database, no storage, no audit, no triage.
Mounted only with ``YIWANG_EVENTS_BENCH_ROUTES=true``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(include_in_schema=False)


@router.post("/open311/v2/_bare.json")
async def bare(request: Request):
    form = await request.form()
    return JSONResponse([{"service_request_id": "0", "token": str(len(form))}], status_code=201)
