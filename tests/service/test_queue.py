"""One model, many requests: a full queue answers 429 with Retry-After, and a client that goes away
stops its generation, so the model is free for the next request at once."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow

LONG = [{"role": "user", "content": "Count from 1 to 500, one number per line."}]
MAX_TOKENS = 400


def wait_until_free(server, cancelled: int, timeout: float = 10.0) -> dict:
    """/readyz's queue once nothing generates and `cancelled` turns ended early (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        [queue] = httpx.get(f"{server.base_url}/readyz").json()["models"].values()
        if queue["generating"] == 0 and queue["waiting"] == 0 and queue["cancelled"] == cancelled:
            return queue
        assert time.monotonic() < deadline, queue
        time.sleep(0.05)


def generated_tokens(server) -> int:
    """Tokens in the model's context past the long prompt: what the last generation produced."""
    [model] = server.service.models.values()
    return model.llama.n_tokens - len(model.render(LONG))


def test_a_full_queue_is_429_and_a_client_that_leaves_stops_its_generation(serve) -> None:
    with serve(queue_size=1) as server:
        name = server.service.config.models[0]
        body = {"model": name, "messages": LONG, "max_tokens": MAX_TOKENS, "stream": True}
        url = f"{server.base_url}/v1/chat/completions"
        with httpx.stream("POST", url, json=body, timeout=120) as stream:
            lines = stream.iter_lines()  # held: a dropped line iterator closes the connection
            for line in lines:  # the model is generating once text arrives
                if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                    break
            with pytest.raises(openai.RateLimitError) as busy:
                server.client().chat.completions.create(model=name, messages=LONG, max_tokens=4)
            assert busy.value.status_code == 429 and busy.value.body["code"] == "queue_full"
            assert int(busy.value.response.headers["retry-after"]) >= 1
        wait_until_free(server, cancelled=1)  # leaving the stream stopped the model at the next token
        assert generated_tokens(server) < MAX_TOKENS // 4

        with pytest.raises(httpx.ReadTimeout):  # a whole reply whose client gives up stops too
            httpx.post(url, json={**body, "stream": False}, timeout=2.0)
        wait_until_free(server, cancelled=2)
        assert generated_tokens(server) < MAX_TOKENS // 4

        reply = server.client().chat.completions.create(
            model=name, messages=[{"role": "user", "content": "Say hi"}], max_tokens=4
        )
        assert reply.choices[0].message.content
