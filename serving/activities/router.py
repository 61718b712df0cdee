"""/activities and /calls routes (being built)."""

from fastapi import APIRouter

router = APIRouter()
calls_router = APIRouter()
