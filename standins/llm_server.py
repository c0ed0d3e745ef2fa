"""A local OpenAI-compatible chat-completions stand-in, with the quirks of real providers.

    python -m standins.llm_server --port 0 --latency 0.3 --mode fenced

prints `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1` and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import deque
from urllib.parse import urlsplit

from standins._http import HANG_S, BackgroundServer, StandinHandler, parse_json
from standins._schema_fill import example_for

# How the answer is wrapped, after the providers that do it: plain (OpenAI), fenced (Ollama
# without structured output), think (reasoning models), citations (Perplexity).
MODES = ("plain", "fenced", "think", "citations")
FAULTS = frozenset(
    {
        "429",
        "500",
        "502",
        "503",
        "quota",
        "context",
        "truncated",
        "invalid",
        "vllm_error",
        "refusal",
        "timeout",
        "disconnect",
    }
)
_CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
_CONTEXT_WINDOW = 8192
_THINK = "<think>\nThe user wants a structured answer; I will follow the schema.\n</think>\n\n"
_CITATIONS = "\n\n[1] https://example.com/source-1\n[2] https://example.org/source-2"


def _error(message: str, kind: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class _LLMHandler(StandinHandler):
    def do_POST(self) -> None:
        raw = self.read_body()
        path = urlsplit(self.path).path.rstrip("/")
        if path in _CHAT_PATHS:
            self.owner._chat(self, raw)
        else:
            body = _error(f"Unknown request URL: POST {path}.", "invalid_request_error", None)
            self.send_json(404, body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/_stats":
            self.send_json(200, self.owner.stats)
        elif path in ("/v1/models", "/models"):
            # Some tools list models before the first call to check the base URL.
            model = {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "standin"}
            self.send_json(200, {"object": "list", "data": [model]})
        else:
            body = _error(f"Unknown request URL: GET {path}.", "invalid_request_error", None)
            self.send_json(404, body)


class LLMStandin(BackgroundServer):
    """Answers chat completions with JSON built from the request's schema, wrapped per `mode`."""

    handler_class = _LLMHandler

    def __init__(
        self,
        *,
        mode: str = "plain",
        latency_s: float = 0.0,
        api_key: str | None = None,
        model: str = "standin-model",
        keep_requests: int = 50,
        port: int = 0,
        verbose: bool = False,
    ):
        super().__init__(port=port, verbose=verbose)
        if mode not in MODES:
            raise ValueError(f"Unknown mode {mode!r}: use one of {MODES}.")
        self.mode = mode
        self.latency_s = latency_s
        self.api_key = api_key
        self.model = model
        self._lock = threading.Lock()
        self._script: deque[str] = deque()
        self._requests: deque[dict] = deque(maxlen=keep_requests)
        self._ids = itertools.count(1)
        self._counters = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self._by_status: dict[str, int] = {}

    @property
    def url(self) -> str:
        """The base URL an OpenAI client takes, ending in /v1."""
        return f"{self.base_url}/v1"

    @property
    def stats(self) -> dict:
        with self._lock:
            return {**self._counters, "by_status": dict(self._by_status)}

    @property
    def requests(self) -> list[dict]:
        """The last request bodies received, oldest first."""
        with self._lock:
            return list(self._requests)

    def script(self, faults: list[str]) -> None:
        """Queue faults for the next chat requests, in order (see FAULTS)."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"Unknown LLM fault {fault!r}: use one of {sorted(FAULTS)}.")
        with self._lock:
            self._script.extend(faults)

    # ----------------------------------------------------------------- request flow

    def _chat(self, handler: StandinHandler, raw: bytes) -> None:
        with self._lock:
            self._counters["requests"] += 1
        ok, body = parse_json(raw)
        if not ok or not isinstance(body, dict):
            msg = "We could not parse the JSON body of your request."
            self._reply(handler, 400, _error(msg, "invalid_request_error", None))
            return
        with self._lock:
            self._requests.append(body)

        if self.api_key is not None and _bearer(handler) != self.api_key:
            msg = "Incorrect API key provided. You can find your API key in your account settings."
            self._reply(handler, 401, _error(msg, "invalid_request_error", "invalid_api_key"))
            return

        with self._lock:
            fault = self._script.popleft() if self._script else None
        if not self.pause(self.latency_s):
            handler.drop()
            return

        prompt = _prompt_text(body)
        prompt_tokens = max(1, len(prompt) // 4)
        if fault is not None and self._inject_error(handler, fault, prompt_tokens):
            return

        content, finish = self._content(body, fault), "stop"
        refusal = None
        if fault == "truncated":
            content, finish = content[: len(content) // 2], "length"
        elif fault == "refusal":
            content, refusal = None, "I'm sorry, but I can't help with that request."
        completion_tokens = max(1, len(content or refusal or "") // 4)
        with self._lock:
            self._counters["prompt_tokens"] += prompt_tokens
            self._counters["completion_tokens"] += completion_tokens
        completion = {
            "id": f"chatcmpl-standin-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or self.model),
            "system_fingerprint": "fp_standin",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        if body.get("stream"):
            self._stream(handler, completion, body)
        else:
            self._reply(handler, 200, completion)

    def _inject_error(self, handler: StandinHandler, fault: str, prompt_tokens: int) -> bool:
        """Answer a fault that replaces the completion; False for faults that alter it."""
        if fault == "429":
            msg = "Rate limit reached for requests per min. Please try again in 1s."
            body = _error(msg, "requests", "rate_limit_exceeded")
            self._reply(handler, 429, body, {"Retry-After": "1"})
        elif fault == "quota":
            # Same status as a rate limit, but retrying never helps: the code tells them apart.
            msg = "You exceeded your current quota, please check your plan and billing details."
            self._reply(handler, 429, _error(msg, "insufficient_quota", "insufficient_quota"))
        elif fault in ("500", "502", "503"):
            msg = "The server had an error while processing your request. Sorry about that!"
            self._reply(handler, int(fault), _error(msg, "server_error", None))
        elif fault == "context":
            msg = (
                f"This model's maximum context length is {_CONTEXT_WINDOW} tokens. However, your "
                f"messages resulted in {max(prompt_tokens, _CONTEXT_WINDOW + 1)} tokens. Please "
                "reduce the length of the messages."
            )
            body = _error(msg, "invalid_request_error", "context_length_exceeded", "messages")
            self._reply(handler, 400, body)
        elif fault == "vllm_error":
            # vLLM's own error shape: no "error" envelope.
            msg = "The prompt is too long for this model's context window."
            body = {"object": "error", "message": msg, "type": "BadRequestError", "code": 400}
            self._reply(handler, 400, body)
        elif fault == "timeout":
            if self.pause(HANG_S):
                self._reply(handler, 504, _error("Gateway timeout.", "server_error", None))
            else:
                self._count(None)
                handler.drop()
        elif fault == "disconnect":
            self._count(None)
            handler.drop()
        else:
            return False
        return True

    def _content(self, body: dict, fault: str | None) -> str:
        if fault == "invalid":
            # What a model that ignored the schema says.
            return "Sure! Here is a short overview of the competitors, in prose rather than JSON."
        schema = _schema_of(body)
        if schema is not None:
            text = json.dumps(example_for(schema), ensure_ascii=False)
            is_json = True
        elif _wants_json_object(body):
            text = json.dumps({"answer": _prose(body)}, ensure_ascii=False)
            is_json = True
        else:
            text, is_json = _prose(body), False
        if self.mode == "fenced" and is_json:
            return f"```json\n{text}\n```"
        if self.mode == "think":
            return _THINK + text
        if self.mode == "citations":
            return text + _CITATIONS
        return text

    def _stream(self, handler: StandinHandler, completion: dict, body: dict) -> None:
        # Server-sent events without a length: the connection closes to end the stream.
        choice = completion["choices"][0]
        content = choice["message"]["content"] or ""
        base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"
        pieces = [content[i : i + 40] for i in range(0, len(content), 40)]
        events = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
        lines = [
            {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in events
        ]
        lines.append(
            {
                **base,
                "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
            }
        )
        if (body.get("stream_options") or {}).get("include_usage"):
            lines.append({**base, "choices": [], "usage": completion["usage"]})
        self._count(200)
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        for line in lines:
            handler.wfile.write(f"data: {json.dumps(line, ensure_ascii=False)}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")

    def _reply(
        self,
        handler: StandinHandler,
        status: int,
        payload: dict,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._count(status)
        handler.send_json(status, payload, headers)

    def _count(self, status: int | None) -> None:
        key = str(status) if status is not None else "dropped"
        with self._lock:
            self._by_status[key] = self._by_status.get(key, 0) + 1


def _bearer(handler: StandinHandler) -> str | None:
    value = handler.headers.get("Authorization") or ""
    return value[7:].strip() if value.lower().startswith("bearer ") else None


def _schema_of(body: dict) -> dict | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else None


def _wants_json_object(body: dict) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") == "json_object"


def _prompt_text(body: dict) -> str:
    parts: list[str] = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            # Content parts: only text counts toward the estimate.
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        # Providers bill the schema as prompt tokens too.
        parts.append(json.dumps(fmt))
    return "\n".join(parts)


def _prose(body: dict) -> str:
    size = len(_prompt_text(body))
    return (
        "This is the local stand-in model. It read a prompt of "
        f"{size} characters and answers with this short paragraph instead of a real analysis."
    )


def main(argv: list[str] | None = None) -> None:
    from standins._http import serve_until_signalled

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--mode", choices=MODES, default="plain", help="how answers are wrapped")
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--model", default="standin-model", help="model name to report")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    server = LLMStandin(
        mode=args.mode,
        latency_s=args.latency,
        api_key=args.api_key,
        model=args.model,
        port=args.port,
        verbose=args.verbose,
    )
    serve_until_signalled(server, lambda: f"OPENAI_BASE_URL={server.url}")


if __name__ == "__main__":
    main()
