"""One chat completion as a sequence of events (text deltas, finished tool calls, the finish), the same
for streamed and whole replies. Calls are always decoded under a grammar built from the offered
tools' schemas, so every call that goes out parses and matches its tool's parameters.

How `tool_choice` is served:

* `"none"`, or no tools: text, generated without the tools in the prompt.
* `"required"` / a named tool: one constrained generation of a call (`parallel_tool_calls=false`) or of
  1 to `max_parallel_calls` calls (true, OpenAI's default) to the allowed tools, in the model's own
  call format where its template has one (`callgrammar`).
* `"auto"`: if no offered tool is relevant to the user's request (`Relevance`), text as for "none".
  Otherwise the reply is generated with the tools in the prompt and its opening is watched
  (`openings`): text streams on from the same generation; a call opening stops it and the call(s)
  are generated under the grammar instead (from the same prompt, so its KV cache is reused). A call
  opening later in a text reply ends the text there and the calls follow it. Calls that repeat a call
  already answered in this turn are dropped; if nothing new is left, the reply is text after all.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from tinycrew.models import ChatModel, ChatResult
from tinycrew.models.capabilities import capabilities_of
from tinycrew.models.grammar import grammar_for_schema, grammar_from_gbnf, tool_call_schema
from tinycrew.service.callgrammar import calls_grammar, gbnf_error, schema_gbnf_error, uses_call_tags
from tinycrew.service.callstream import CallReader
from tinycrew.service.errors import bad_request
from tinycrew.service.generation import Generation
from tinycrew.service.openings import TAG_STOPS, TEXT_GRAMMAR, Opening, classify_start, find_call
from tinycrew.service.relevance import Relevance
from tinycrew.service.schemas import Plan


@dataclass
class CallOut:
    """A finished tool call as it goes out: `arguments` is JSON text, as OpenAI sends it."""

    index: int
    id: str
    name: str
    arguments: str


@dataclass
class TextDelta:
    text: str


@dataclass
class CallDone:
    call: CallOut


@dataclass
class Finish:
    reason: str  # "stop" | "length" | "tool_calls"
    prompt_tokens: int
    completion_tokens: int


Event = TextDelta | CallDone | Finish


def new_call_id() -> str:
    """An id in OpenAI's style, `call_` and 24 hex digits."""
    return f"call_{uuid.uuid4().hex[:24]}"


def check_tool_grammars(tools: list[dict[str, Any]] | None) -> None:
    """Every tool's parameters must turn into a grammar; a schema that cannot is a 400 naming the tool.

    Example: `check_tool_grammars([{"type": "function", "function": {"name": "f", "parameters":
    {"type": "object", "properties": {"x": {"type": "integer"}}}}}])` returns None.
    """
    for i, tool in enumerate(tools or []):
        try:
            schema = tool_call_schema([tool])
            grammar_for_schema(schema)
            error = schema_gbnf_error(schema)
        except Exception as raised:  # llama.cpp's converter raises many kinds for schemas it cannot read
            error = str(raised)
        if error is not None:
            raise bad_request(
                f"the parameters cannot be used for constrained decoding: {error}",
                param=f"tools[{i}].function.parameters",
            )


def _repeats(name: str, arguments: dict[str, Any], earlier: list[tuple[str, dict[str, Any]]]) -> bool:
    """A call repeats an earlier one when the tool is the same and the arguments agree on every key
    they share, one set of keys holding the other (an added optional argument is still a repeat)."""
    for other_name, other in earlier:
        if other_name != name:
            continue
        shared = arguments.keys() & other.keys()
        if all(arguments[key] == other[key] for key in shared) and shared in (arguments.keys(), other.keys()):
            return True
    return False


class Completion:
    """The events of one completion of `plan` by `model` (see the module docstring for the decisions).

    Example: `async for event in Completion(model, plan, max_parallel_calls=4).events(): ...`.
    """

    def __init__(
        self,
        model: ChatModel,
        plan: Plan,
        *,
        max_parallel_calls: int,
        relevance: Relevance | None = None,
        prompt_tokens: int = 0,
    ) -> None:
        self.model, self.plan, self.relevance = model, plan, relevance
        self.max_parallel_calls = max_parallel_calls
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.calls: list[CallOut] = []
        self.text = ""
        self._grammar = capabilities_of(model).grammar
        self._tags = uses_call_tags(model)

    def call_options(self) -> dict[str, Any]:
        """The constraint the calls are decoded under: a GBNF grammar (tagged calls or a JSON list), or
        the JSON schema for a backend that takes schemas only."""
        plan = self.plan
        assert plan.tools is not None
        allowed = [
            tool for tool in plan.tools if plan.choice in ("auto", "required", tool["function"]["name"])
        ]
        most = self.max_parallel_calls if plan.parallel else 1
        if self._grammar:
            return {"grammar": calls_grammar(allowed, most, self._tags)}
        schema = tool_call_schema(allowed)
        if most > 1:
            schema = {"type": "array", "items": schema, "minItems": 1, "maxItems": most}
        return {"json_schema": schema}

    def check(self) -> None:
        """Refuse (400) tools whose schemas make no grammar, before the request takes a queue place."""
        check_tool_grammars(self.plan.tools)
        if self.plan.tools and self.plan.choice != "none" and self._grammar:
            try:
                gbnf = self.call_options()["grammar"]
                grammar_from_gbnf(gbnf)  # made once, kept for the generation
                error = gbnf_error(gbnf)
            except Exception as raised:  # llama.cpp's converter and parser raise many kinds
                error = str(raised)
            if error is not None:
                raise bad_request(f"the tools make no grammar: {error}", param="tools")

    def _finish(self, reason: str) -> Finish:
        return Finish(reason, self.prompt_tokens, self.completion_tokens)

    async def _generate(self, options: dict[str, Any], results: list[ChatResult]) -> AsyncIterator[str]:
        """Text deltas of one generation; its result (when it ran to the end) is appended to `results`."""
        generation = Generation(self.model, self.plan.messages, **options)
        finished: ChatResult | None = None
        try:
            async with aclosing(generation.chunks()) as chunks:
                async for chunk in chunks:
                    if chunk.result is not None:
                        finished = chunk.result
                    elif chunk.delta:
                        yield chunk.delta
        finally:
            if finished is not None:
                results.append(finished)
                self.prompt_tokens = finished.usage.prompt_tokens or self.prompt_tokens
                self.completion_tokens += finished.usage.completion_tokens
            else:
                self.completion_tokens += generation.tokens

    def _sampling(self) -> dict[str, Any]:
        return {"max_tokens": self.plan.max_tokens, "temperature": self.plan.temperature}

    async def events(self) -> AsyncIterator[Event]:
        """Text deltas and finished calls in order, then one `Finish`."""
        plan = self.plan
        if not plan.tools or plan.choice == "none":
            async for event in self._text_only(guard=plan.history_has_calls and bool(plan.tools)):
                yield event
        elif plan.choice != "auto":
            async for event in self._calls(auto=False):
                yield event
            yield self._finish("tool_calls" if self.calls else "length")
        elif not await self._relevant():
            async for event in self._text_only(guard=plan.history_has_calls):
                yield event
        else:
            async for event in self._auto():
                yield event

    async def _relevant(self) -> bool:
        if self.relevance is None or not self.plan.request_text or not self.plan.tools:
            return True
        return await asyncio.to_thread(self.relevance.any_relevant, self.plan.request_text, self.plan.tools)

    async def _text_only(self, guard: bool) -> AsyncIterator[Event]:
        """A text reply without the tools in the prompt; `guard` keeps it from opening with a call (a
        small model imitates the calls it sees in the conversation) and stops it where one would begin."""
        options: dict[str, Any] = {
            "tools": None,
            "tool_choice": "none",
            **self._sampling(),
            "stop": self.plan.stop,
        }
        if guard:
            options["stop"] = [*(self.plan.stop or []), *TAG_STOPS]
            if self._grammar:
                options["grammar"] = TEXT_GRAMMAR
        results: list[ChatResult] = []
        async with aclosing(self._generate(options, results)) as deltas:
            async for delta in deltas:
                self.text += delta
                yield TextDelta(delta)
        yield self._finish(results[0].finish_reason if results else "stop")

    async def _auto(self) -> AsyncIterator[Event]:
        plan = self.plan
        options = {"tools": plan.tools, "tool_choice": "auto", **self._sampling(), "stop": plan.stop}
        results: list[ChatResult] = []
        reply, sent, call_at, is_text = "", 0, None, False
        async with aclosing(self._generate(options, results)) as deltas:
            async for delta in deltas:
                reply += delta
                if not is_text:
                    opening = classify_start(reply)
                    if opening is Opening.CALL:
                        call_at = 0
                        break
                    if opening is Opening.UNDECIDED:
                        continue
                    is_text = True
                found = find_call(reply, sent)
                if found is not None and found[1]:
                    call_at = found[0]
                limit = found[0] if found is not None else len(reply)
                if limit > sent:
                    self.text += reply[sent:limit]
                    yield TextDelta(reply[sent:limit])
                    sent = limit
                if call_at is not None:
                    break
        if call_at is None:  # a text reply to the end (or one that never got past a possible opening)
            if len(reply) > sent:
                self.text += reply[sent:]
                yield TextDelta(reply[sent:])
            reason = results[0].finish_reason if results else "stop"
            yield self._finish("stop" if reason == "tool_calls" else reason)
            return
        async for event in self._calls(auto=True):
            yield event
        if self.calls:
            yield self._finish("tool_calls")
        elif self.text:  # the text before the call stands; the call only repeated an earlier one
            yield self._finish("stop")
        else:
            async for event in self._text_only(guard=True):
                yield event

    async def _calls(self, auto: bool) -> AsyncIterator[Event]:
        """Calls decoded under the grammar of the allowed tools, each sent when its JSON closes. A copy
        of a call already in this reply ends the generation (a small model repeats rather than stops);
        with `auto`, calls repeating one already answered in this turn are dropped."""
        plan = self.plan
        options = {"tools": plan.tools, "tool_choice": "auto", **self.call_options(), **self._sampling()}
        reader, seen = CallReader(), set()
        results: list[ChatResult] = []
        async with aclosing(self._generate(options, results)) as deltas:
            async for delta in deltas:
                copied = False
                for call in reader.feed(delta):
                    key = (call["name"], json.dumps(call["arguments"], sort_keys=True))
                    if key in seen:
                        copied = True
                        break
                    seen.add(key)
                    if auto and _repeats(call["name"], call["arguments"], plan.turn_calls):
                        continue
                    out = CallOut(
                        index=len(self.calls),
                        id=new_call_id(),
                        name=call["name"],
                        arguments=json.dumps(call["arguments"], ensure_ascii=False),
                    )
                    self.calls.append(out)
                    yield CallDone(out)
                if copied:
                    break
