"""The analytics service's API over NATS request/reply: the efficiency summary and its charts."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any, Literal

from faststream.nats import NatsRouter
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.projection.runner import wait_for_height
from govchain.services.analytics.charts import CHARTS
from govchain.services.analytics.metrics import AnalyticsConfig, Summary, summarize
from govchain.services.analytics.refusals import RefusalTally
from govchain.services.analytics.store import read_snapshot


class SummaryRequest(BaseModel):
    min_height: int | None = Field(default=None, description="answer only once this block is applied")


class ChartRequest(BaseModel):
    name: str = Field(max_length=32, description=" | ".join(CHARTS))
    lang: Literal["en", "zh-CN"] = Field(default="en", description="the language of its titles, axes and legends")
    min_height: int | None = Field(default=None, description="answer only once this block is applied")


BEHIND = {"error": "the analytics projection has not reached the requested height yet", "code": "not_ready"}


class AnalyticsQueries:
    """Summaries from the store; ``height`` and ``refusals`` reach the running followers lazily."""

    def __init__(
        self,
        engine: Engine,
        config: AnalyticsConfig,
        height: Callable[[], int],
        refusals: Callable[[], RefusalTally | None],
    ) -> None:
        self.engine = engine
        self.config = config
        self.height = height
        self.refusals = refusals

    async def summary(self, min_height: int | None) -> Summary | None:
        """The summary once ``min_height`` is applied and REJECTED is read to its end; None if
        the projection stays behind."""
        if not await wait_for_height(self.height, min_height):
            return None
        tally = self.refusals()
        if tally is not None:
            await tally.caught_up()
        return await asyncio.to_thread(lambda: summarize(read_snapshot(self.engine), self.config))


def analytics_router(queries: AnalyticsQueries, names: ChainNames = DEFAULT) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(names.analytics_summary)
    async def summary(request: SummaryRequest) -> dict[str, Any]:
        found = await queries.summary(request.min_height)
        return BEHIND if found is None else found.model_dump(mode="json")

    @router.subscriber(names.analytics_chart)
    async def chart(request: ChartRequest) -> dict[str, Any]:
        draw = CHARTS.get(request.name)
        if draw is None:
            return {"error": f"no chart {request.name!r}; there are {', '.join(CHARTS)}", "code": "unknown_chart"}
        found = await queries.summary(request.min_height)
        if found is None:
            return BEHIND
        png = await asyncio.to_thread(draw, found, request.lang)
        return {
            "name": request.name,
            "lang": request.lang,
            "media_type": "image/png",
            "as_of_height": found.as_of_height,
            "png_base64": base64.b64encode(png).decode(),
        }

    return router
