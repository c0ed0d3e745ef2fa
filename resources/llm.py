"""Report writers: an OpenAI-compatible LLM, or rules over the metrics when none is configured.

The LLM path asks for a JSON schema, but validates locally whatever comes back: providers wrap
JSON in fences, think blocks and citations, truncate it, or ignore the schema. A bad answer is
retried once, then the business gets the rule-written report, labelled with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import openai
import pydantic

from insights.llm_output import NoJsonFound, extract_json
from insights.metrics import Metrics
from insights.prompts import PROMPT_VERSION, SYSTEM_PROMPT, user_prompt
from insights.report import DraftReport, draft_json_schema
from insights.rule_writer import write_draft
from resources.rate_limit import pacer
from resources.usage import Counters

logger = logging.getLogger(__name__)


class LlmFatalError(Exception):
    """A configuration error that would fail every report (bad key, unknown model)."""


@dataclass
class Draft:
    draft: DraftReport
    writer: str  # "llm" or "deterministic"
    model: str | None
    prompt_version: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    fallback_reason: str | None = None


@dataclass
class LlmUsage(Counters):
    calls: int = 0
    errors: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class RuleWriter:
    """The deterministic writer; also what every LLM failure falls back to."""

    model: str | None = None
    prompt_version: str | None = None
    usage: LlmUsage

    def __init__(self) -> None:
        self.usage = LlmUsage()

    async def write(self, name: str, document: dict, metrics: Metrics) -> Draft:
        return Draft(write_draft(name, metrics), "deterministic", None, None)

    async def aclose(self) -> None:
        return None


@dataclass
class LlmConfig:
    model: str
    api_key: str | None
    base_url: str | None
    timeout_s: float = 60.0
    concurrency: int = 8
    requests_per_second: float = 5.0
    input_price_per_mtok: float = 0.15
    output_price_per_mtok: float = 0.60
    max_output_tokens: int = 1500
    extra_headers: dict = field(default_factory=dict)
    # Set: the rate is shared through this Redis by every run using the same endpoint and key.
    redis_url: str | None = None


class _BadAnswer(Exception):
    pass


class LlmWriter:
    prompt_version = PROMPT_VERSION

    def __init__(self, config: LlmConfig):
        self.config = config
        self.model = config.model
        self.usage = LlmUsage()
        # The SDK retries 408/409/429/5xx and connection errors twice by itself; its default
        # ten-minute timeout would stall a night, so ours is explicit.
        self._client = openai.AsyncOpenAI(
            api_key=config.api_key or "no-key-needed",
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=2,
        )
        self._limiter = pacer(
            config.requests_per_second,
            redis_url=config.redis_url,
            name="llm",
            scope=f"{config.base_url}|{config.api_key}",
        )
        self._slots = asyncio.Semaphore(config.concurrency)
        self._schema = draft_json_schema()
        self._quota_exhausted = False

    async def aclose(self) -> None:
        await self._client.close()
        await self._limiter.aclose()

    async def write(self, name: str, document: dict, metrics: Metrics) -> Draft:
        if self._quota_exhausted:
            return self._fallback(name, metrics, "LLM quota exhausted earlier in this run")
        problem = "no attempt made"
        for attempt in range(2):
            try:
                return await self._ask(document)
            except _BadAnswer as error:
                problem = str(error)
                logger.info("LLM answer for %s unusable (attempt %d): %s", name, attempt + 1, error)
            except openai.BadRequestError as error:
                if _code(error) == "context_length_exceeded" and attempt == 0:
                    # Resending the same input would fail the same way: shrink it first.
                    document = _shrink(document)
                    problem = "context length exceeded"
                    continue
                problem = f"the LLM server rejected the request: {_describe(error)}"
                break
            except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
                raise LlmFatalError(
                    f"The LLM server refused the API key ({_describe(error)}). Set "
                    "OPENAI_API_KEY for the server at OPENAI_BASE_URL, or unset both to write "
                    "reports without an LLM."
                ) from error
            except openai.NotFoundError as error:
                raise LlmFatalError(
                    f"The LLM server does not know model {self.model!r} or the endpoint "
                    f"({_describe(error)}). Check LLM_MODEL and OPENAI_BASE_URL."
                ) from error
            except openai.RateLimitError as error:
                if _code(error) == "insufficient_quota":
                    self._quota_exhausted = True
                    logger.warning("LLM quota exhausted; remaining reports are rule-written")
                problem = f"rate limited: {_describe(error)}"
                break
            except (openai.APIConnectionError, openai.APIStatusError) as error:
                problem = f"LLM server unavailable: {_describe(error)}"
                break
        self.usage.errors += 1
        return self._fallback(name, metrics, problem)

    def _fallback(self, name: str, metrics: Metrics, reason: str) -> Draft:
        self.usage.fallbacks += 1
        draft = write_draft(name, metrics)
        return Draft(draft, "deterministic", None, None, fallback_reason=reason[:300])

    async def _ask(self, document: dict) -> Draft:
        async with self._slots:
            await self._limiter.acquire()
            self.usage.calls += 1
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user_prompt(document)},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "report", "strict": True, "schema": self._schema},
                },
                max_tokens=self.config.max_output_tokens,
                temperature=0.2,
            )
        usage = completion.usage
        tokens_in = (usage.prompt_tokens or 0) if usage else 0
        tokens_out = (usage.completion_tokens or 0) if usage else 0
        cost = (
            tokens_in * self.config.input_price_per_mtok
            + tokens_out * self.config.output_price_per_mtok
        ) / 1e6
        self.usage.input_tokens += tokens_in
        self.usage.output_tokens += tokens_out
        self.usage.cost_usd += cost
        if not completion.choices:
            raise _BadAnswer("the answer had no choices")
        choice = completion.choices[0]
        if choice.finish_reason == "length":
            raise _BadAnswer("the answer was cut off at the token limit")
        message = choice.message
        if getattr(message, "refusal", None):
            raise _BadAnswer(f"the model refused: {message.refusal[:200]}")
        try:
            draft = DraftReport.model_validate(extract_json(message.content))
        except NoJsonFound as error:
            raise _BadAnswer(str(error)) from error
        except pydantic.ValidationError as error:
            raise _BadAnswer(f"the JSON does not fit the report schema: {error}"[:400]) from error
        return Draft(draft, "llm", self.model, self.prompt_version, tokens_in, tokens_out, cost)


def _code(error: openai.APIStatusError) -> str | None:
    body = error.body if isinstance(error.body, dict) else {}
    nested = body.get("error") if isinstance(body.get("error"), dict) else body
    return getattr(error, "code", None) or nested.get("code")


def _describe(error: Exception) -> str:
    status = getattr(error, "status_code", None)
    text = getattr(error, "message", None) or str(error)
    return f"{status} {text}"[:300] if status else text[:300]


def _shrink(document: dict) -> dict:
    """A smaller input for a model with a small context: fewer competitors, no descriptions."""
    smaller = dict(document)
    smaller["competitors"] = [
        {k: v for k, v in c.items() if k not in ("description", "opening_hours", "reasons")}
        for c in document.get("competitors", [])[:3]
    ]
    business = dict(document.get("business", {}))
    business.pop("description", None)
    business.pop("opening_hours", None)
    smaller["business"] = business
    return smaller
