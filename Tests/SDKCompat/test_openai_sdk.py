"""The official openai SDK against flexsim: Chat Completions and Responses, streamed and not,
tools (parallel), structured output, served tier, usage and errors."""
import json

import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseCompletedEvent, ResponseCreatedEvent, ResponseTextDeltaEvent

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}},
]


class Forecast(pydantic.BaseModel):
    city: str
    days: list[int]
    warm: bool


@pytest.fixture
def client(sim):
    return openai.OpenAI(api_key="sk-test", base_url=f"{sim.base}/openai/v1", max_retries=0)


def test_chat_non_streaming_flex(client, sim):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-5-mini", messages=[{"role": "user", "content": "Say hello"}], service_tier="flex",
        extra_headers={"x-flexsim-correlation-id": "corr-1"})
    completion = raw.parse()
    ChatCompletion.model_validate(completion.model_dump())
    assert isinstance(completion, ChatCompletion)
    assert completion.object == "chat.completion"
    assert completion.service_tier == "flex"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"
    assert len(completion.choices[0].message.content) > 0
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens_details.reasoning_tokens > 0      # gpt-5-mini reasons
    request_id = raw.headers["x-request-id"]
    row = [r for r in sim.ledger() if r["id"] == request_id][0]
    assert row["correlation_id"] == "corr-1"
    assert row["tier_served"] == "flex" and row["billed"] and row["api"] == "chat_completions"
    assert row["tokens"]["output"] == usage.completion_tokens      # output includes reasoning
    assert row["tokens"]["reasoning"] == usage.completion_tokens_details.reasoning_tokens
    assert row["cost_picousd"] > 0


def test_chat_streaming_with_usage(client):
    chunks = list(client.chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "Count"}], stream=True,
        stream_options={"include_usage": True}))
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text) > 0
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].service_tier == "default"


def test_chat_parallel_tool_calls(client):
    completion = client.chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "Weather and time in Paris?"}], tools=TOOLS)
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in message.tool_calls] == ["get_weather", "get_time"]
    args = json.loads(message.tool_calls[0].function.arguments)
    assert set(args) == {"city", "unit"} and args["unit"] in ("c", "f")
    assert message.tool_calls[0].id.startswith("call_")


def test_chat_streamed_tool_calls_reassemble(client):
    with client.chat.completions.stream(
            model="gpt-5", messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert len(calls) == 2 and json.loads(calls[1].function.arguments)["zone"]


def test_chat_structured_output(client):
    completion = client.chat.completions.parse(
        model="gpt-5", messages=[{"role": "user", "content": "Forecast"}], response_format=Forecast)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Forecast)
    assert isinstance(parsed.days, list) and all(isinstance(d, int) for d in parsed.days)


def test_chat_image_input_counts_image_tokens(client):
    # A 1x1 PNG: low detail costs 85 tokens in OpenAI's formula.
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    base = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": [{"type": "text", "text": "What?"}]}])
    with_image = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}", "detail": "low"}}]}])
    assert with_image.usage.prompt_tokens - base.usage.prompt_tokens == 85


def test_responses_non_streaming(client):
    response = client.responses.create(model="gpt-5", input="Write a line", instructions="Be brief", service_tier="flex")
    Response.model_validate(response.model_dump())
    assert response.object == "response" and response.status == "completed"
    assert response.service_tier == "flex"
    assert len(response.output_text) > 0
    assert response.output[0].type == "reasoning" and response.output[-1].type == "message"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens_details.reasoning_tokens > 0
    assert response.instructions == "Be brief"


def test_responses_streaming_event_order(client):
    events = list(client.responses.create(model="gpt-5-mini", input="Hi", stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[1] == "response.in_progress"
    assert types[-1] == "response.completed"
    assert isinstance(events[0], ResponseCreatedEvent) and isinstance(events[-1], ResponseCompletedEvent)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if isinstance(e, ResponseTextDeltaEvent)]
    done = [e for e in events if e.type == "response.output_text.done"][0]
    assert "".join(d.delta for d in deltas) == done.text
    assert events[-1].response.usage.output_tokens > 0


def test_responses_tools_and_structured_output(client):
    tools = [{"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"]} for t in TOOLS]
    response = client.responses.create(model="gpt-5", input="Weather?", tools=tools, parallel_tool_calls=False)
    calls = [o for o in response.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and json.loads(calls[0].arguments)["city"]
    parsed = client.responses.parse(model="gpt-5", input="Forecast", text_format=Forecast)
    assert isinstance(parsed.output_parsed, Forecast)


def test_responses_stream_helper(client):
    with client.responses.stream(model="gpt-5", input="Forecast", text_format=Forecast) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert isinstance(final.output_parsed, Forecast)


def test_errors_are_typed(client, sim):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-404", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}], service_tier="flex")
    assert info.value.param == "service_tier"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-5", messages=[{"role": "wizard", "content": "x"}])
    assert info.value.code == "invalid_value"
    bad = openai.OpenAI(api_key="not-a-key", base_url=f"{sim.base}/openai/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}])


def test_flex_refused_is_429_and_not_billed(outage):
    client = openai.OpenAI(api_key="sk-test", base_url=f"{outage.base}/openai/v1", max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(model="gpt-5", input="x", service_tier="flex")
    assert info.value.status_code == 429 and info.value.code == "resource_unavailable"
    row = outage.ledger()[-1]
    assert row["outcome"] == "refused" and not row["billed"] and row["cost_picousd"] == 0
    ok = client.responses.create(model="gpt-5", input="x", service_tier="default")
    assert ok.service_tier == "default"


def test_in_stream_overload_raises(client):
    fault = {"x-flexsim-fault": "stream_error"}
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}], stream=True, extra_headers=fault):
            pass
    with pytest.raises(openai.APIError) as info:
        for _ in client.responses.create(model="gpt-5", input="x", stream=True, extra_headers=fault):
            pass
    assert "overloaded" in str(info.value)


def test_dated_alias_resolves_and_is_echoed(client, sim):
    completion = client.chat.completions.create(model="gpt-5-2025-08-07", messages=[{"role": "user", "content": "x"}])
    assert completion.model == "gpt-5-2025-08-07"
    assert sim.ledger()[-1]["model"] == "gpt-5"      # the ledger names the catalog entry
