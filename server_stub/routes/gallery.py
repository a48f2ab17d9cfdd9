"""GET /v1/gallery: a kiosk's site gallery, page by page (server_stub/gallery.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kiosk.protocol import schemas
from server_stub import gallery
from server_stub.routes.dependencies import Granted
from server_stub.state import Platform


def router(platform: Platform) -> APIRouter:
    db, config = platform.db, platform.config
    routes = APIRouter(tags=["gallery"])

    @routes.get("/v1/gallery", response_model=schemas.GallerySync)
    def gallery_sync(access: Granted,
                     pack: Annotated[str, Query(min_length=1, max_length=64)],
                     cursor: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int | None, Query(ge=1, le=5000)] = None,
                     ) -> schemas.GallerySync:
        dev = access.device
        with db.read() as conn:
            return gallery.sync(conn, site_id=dev.site_id, pack=pack, cursor=cursor,
                                limit=min(limit or config.gallery.page_size,
                                          config.gallery.page_size),
                                scope=config.gallery.scope, sealer=platform.sealer)

    return routes
