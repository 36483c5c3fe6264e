"""The official anthropic SDK against flexsim: Messages streamed and not, tools, thinking,
structured output, prompt caching, tier and errors."""
import anthropic
import pydantic
import pytest
from anthropic.types import Message, RawContentBlockDeltaEvent, RawMessageStartEvent

TOOLS = [
    {"name": "get_weather", "description": "weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}},
]


class Answer(pydantic.BaseModel):
    title: str
    score: int


@pytest.fixture
def client(sim):
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=f"{sim.base}/anthropic", max_retries=0)


def test_messages_non_streaming(client, sim):
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-6", max_tokens=256, messages=[{"role": "user", "content": "Hello"}], service_tier="standard_only")
    message = raw.parse()
    Message.model_validate(message.model_dump())
    assert message.type == "message" and message.role == "assistant"
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and len(message.content[0].text) > 0
    assert message.usage.service_tier == "standard"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    row = [r for r in sim.ledger() if r["id"] == raw.headers["request-id"]][0]
    assert row["tier_served"] == "standard" and row["tier_asked"] == "standard_only" and row["api"] == "messages"


def test_messages_streaming_events(client):
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=200, messages=[{"role": "user", "content": "Hi"}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    types = [e.type for e in events]
    assert types[0] == "message_start" and isinstance(events[0], RawMessageStartEvent)
    assert "content_block_start" in types and types[-1] == "message_stop"
    assert types.index("content_block_start") < types.index("content_block_stop") < types.index("message_delta")
    text = "".join(e.delta.text for e in events if isinstance(e, RawContentBlockDeltaEvent) and e.delta.type == "text_delta")
    assert final.content[0].text == text
    assert final.usage.output_tokens > 0 and final.stop_reason == "end_turn"


def test_parallel_tool_use_streamed_and_not(client):
    message = client.messages.create(model="claude-opus-4-6", max_tokens=300, tools=TOOLS,
                                     messages=[{"role": "user", "content": "Weather and time?"}])
    assert message.stop_reason == "tool_use"
    uses = [b for b in message.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather", "get_time"]
    assert isinstance(uses[0].input["city"], str) and uses[0].id.startswith("toolu_")
    with client.messages.stream(model="claude-opus-4-6", max_tokens=300, tools=TOOLS,
                                messages=[{"role": "user", "content": "Weather?"}]) as stream:
        final = stream.get_final_message()
    assert [b.input for b in final.content if b.type == "tool_use"][1]["zone"]


def test_tool_result_turn_gets_text(client):
    message = client.messages.create(model="claude-opus-4-6", max_tokens=300, tools=TOOLS, messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny"}]}])
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"


def test_thinking_blocks(client):
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024},
                                     messages=[{"role": "user", "content": "Think"}])
    assert message.content[0].type == "thinking" and message.content[0].signature
    assert message.content[1].type == "text"


def test_structured_output(client):
    parsed = client.messages.parse(model="claude-sonnet-4-6", max_tokens=500, output_format=Answer,
                                   messages=[{"role": "user", "content": "Rate it"}])
    assert isinstance(parsed.parsed_output, Answer)


def test_prompt_cache_write_then_read(client):
    system = [{"type": "text", "text": "policy " * 3000, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model="claude-haiku-4-5", max_tokens=50, system=system, messages=[{"role": "user", "content": "a"}])
    second = client.messages.create(model="claude-haiku-4-5", max_tokens=50, system=system, messages=[{"role": "user", "content": "b"}])
    assert first.usage.cache_creation_input_tokens > 1024 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0


def test_errors_are_typed(client, sim):
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="claude-nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}], service_tier="flex")
    assert "service_tier" in str(info.value)
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}],
                               extra_headers={"x-flexsim-fault": "status=529"})
    bad = anthropic.Anthropic(api_key="wrong", base_url=f"{sim.base}/anthropic", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}])


def test_in_stream_overload_raises(client):
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "x"}],
                                    extra_headers={"x-flexsim-fault": "stream_error"}) as stream:
            for _ in stream:
                pass
    assert "overloaded_error" in str(info.value)
