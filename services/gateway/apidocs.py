"""The API's interactive documentation, served entirely by the gateway.

FastAPI's default ``/docs`` loads Swagger UI from a CDN, so on a government intranet (or
offline) it is a blank page. The assets come from the ``swagger-ui-bundle`` package instead,
mounted under ``/docs-assets``; the OpenAPI document stays at ``/openapi.json``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs-assets"


def install_api_docs(app: FastAPI) -> None:
    """``/docs`` with locally served Swagger UI; create the app with ``docs_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
