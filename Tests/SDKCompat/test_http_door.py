"""The official openai, anthropic and google-genai SDKs against flexd's HTTP door: nothing changed
but the base URL and `start_within` (extra_body, or the flexd-start-within header). Every API
unary and streamed, with tools, structured output, images and reasoning; the tier each
start_within gets; errors raised as the SDK's own exceptions carrying flexd's code; the savings
record in the flexd-savings header and the stream's closing comment, checked to the unit against
what flexsim billed; the single base URL /v1; the model listing; SIGTERM with calls in flight."""
import concurrent.futures
import http.client
import json
import os
import signal
import tempfile
import time

import anthropic
import openai
import pydantic
import pytest
from google import genai
from google.genai import errors, types

from conftest import Flexd

FLEX = {"start_within": "00h-00m-30s"}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}},
]
ANTHROPIC_TOOLS = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}},
]
WEATHER = types.FunctionDeclaration(name="get_weather", parameters_json_schema={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
TIME = types.FunctionDeclaration(name="get_time", parameters_json_schema={
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]})


class Forecast(pydantic.BaseModel):
    city: str
    days: list[int]


def openai_client(door, path="/openai/v1"):
    return openai.OpenAI(api_key="sk-test-door", base_url=f"{door.base}{path}", max_retries=0)


def anthropic_client(door, path="/anthropic"):
    return anthropic.Anthropic(api_key="sk-ant-door", base_url=f"{door.base}{path}", max_retries=0)


def genai_client(door, api_version=None):
    options = types.HttpOptions(base_url=f"{door.base}/gemini", retry_options=types.HttpRetryOptions(attempts=1),
                                extra_body=FLEX)
    if api_version:
        options.api_version = api_version
    return genai.Client(api_key="AIzaDoorTest", http_options=options)


def raw_post(door, path, body, headers):
    """An HTTP POST without an SDK: the status, the headers and the body's lines."""
    connection = http.client.HTTPConnection("127.0.0.1", door.port, timeout=30)
    connection.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json", **headers})
    response = connection.getresponse()
    lines = response.read().decode().split("\n")
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, lines


def raw_stream(door, path, body, headers):
    """A streamed POST over a raw socket (http.client drops trailers): the status, the headers,
    the body's lines (chunked framing removed) and the HTTP trailers."""
    import socket
    payload = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"content-length: {len(payload)}\r\n\r\n"
    data = b""
    with socket.create_connection(("127.0.0.1", door.port), timeout=30) as s:
        s.sendall(head.encode() + payload)
        while chunk := s.recv(65536):
            data += chunk
    head_bytes, rest = data.split(b"\r\n\r\n", 1)
    lines = head_bytes.decode().split("\r\n")
    fields = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert fields.get("transfer-encoding") == "chunked", fields
    content = b""
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        content, rest = content + rest[:size], rest[size + 2:]
    trailers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in rest.decode().split("\r\n") if line)}
    return int(lines[0].split()[1]), fields, content.decode().split("\n"), trailers


def savings_trailer(lines):
    """The record on the stream's closing comment `: flexd-savings {...}`."""
    trailers = [line for line in lines if line.startswith(": flexd-savings ")]
    assert len(trailers) == 1, lines[-5:]
    return json.loads(trailers[0][len(": flexd-savings "):])


def billed(sim, request_id):
    rows = [r for r in sim.ledger() if r.get("correlation_id") == request_id]
    assert len(rows) == 1, rows
    return rows[0]


# MARK: - OpenAI


def test_openai_chat_unary_flex_carries_its_savings_record(door_and_sim):
    door, sim = door_and_sim
    raw = openai_client(door).chat.completions.with_raw_response.create(
        model="gpt-5-mini", messages=[{"role": "user", "content": "Say hello"}], extra_body=FLEX)
    completion = raw.parse()
    assert completion.object == "chat.completion" and completion.service_tier == "flex"
    assert len(completion.choices[0].message.content) > 0
    assert raw.headers["flexd-tier-served"] == "flex" and raw.headers["flexd-fell-back"] == "false"
    record = json.loads(raw.headers["flexd-savings"])
    assert record["request_id"] == raw.headers["flexd-request-id"]
    assert record["tier_requested"] == "flex" and record["tier_served"] == "flex" and record["start_within"] == "00h-00m-30s"
    assert record["tokens"]["output_tokens"] == completion.usage.completion_tokens
    assert record["saved_picousd"] == record["standard_cost_picousd"] - record["actual_cost_picousd"] > 0
    assert record["fee_picousd"] == record["saved_picousd"] * 20 // 100
    row = billed(sim, record["request_id"])
    assert row["cost_picousd"] == record["actual_cost_picousd"] and row["tier_served"] == "flex"


def test_openai_chat_stream_ends_with_the_savings_comment(door_and_sim):
    door, sim = door_and_sim
    body = {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "Count"}], "stream": True, **FLEX}
    status, headers, lines = raw_post(door, "/openai/v1/chat/completions", body, {"authorization": "Bearer sk-test-door"})
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert headers["flexd-tier-served"] == "flex"
    data = [line[len("data: "):] for line in lines if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    record = savings_trailer(lines)
    assert lines.index("data: [DONE]") < lines.index(next(line for line in lines if line.startswith(": flexd-savings")))
    assert billed(sim, record["request_id"])["cost_picousd"] == record["actual_cost_picousd"]


def test_openai_chat_streamed_tool_calls_structured_output_and_images(door):
    client = openai_client(door)
    with client.chat.completions.stream(model="gpt-5", messages=[{"role": "user", "content": "Weather and time?"}],
                                        tools=OPENAI_TOOLS, extra_body=FLEX) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[1].function.arguments)["zone"]
    parallel = client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "Both?"}],
                                              tools=OPENAI_TOOLS, extra_body=FLEX)
    assert parallel.choices[0].finish_reason == "tool_calls" and len(parallel.choices[0].message.tool_calls) == 2
    parsed = client.chat.completions.parse(model="gpt-5", messages=[{"role": "user", "content": "Forecast"}],
                                           response_format=Forecast, extra_body=FLEX)
    assert isinstance(parsed.choices[0].message.parsed, Forecast)
    image = client.chat.completions.create(model="gpt-5-mini", extra_body=FLEX, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}}]}])
    assert image.usage.prompt_tokens >= 85 and image.choices[0].message.content
    assert image.usage.completion_tokens_details.reasoning_tokens > 0


def test_openai_responses_unary_streamed_tools_and_reasoning(door):
    client = openai_client(door)
    response = client.responses.create(model="gpt-5", input="Write a line", instructions="Be brief", extra_body=FLEX)
    assert response.status == "completed" and response.service_tier == "flex"
    assert response.output[0].type == "reasoning" and len(response.output_text) > 0
    events = list(client.responses.create(model="gpt-5-mini", input="Hi", stream=True, extra_body=FLEX))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    tools = [{"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"]} for t in OPENAI_TOOLS]
    called = client.responses.create(model="gpt-5", input="Weather?", tools=tools, extra_body=FLEX)
    assert [o.name for o in called.output if o.type == "function_call"]
    parsed = client.responses.parse(model="gpt-5", input="Forecast", text_format=Forecast, extra_body=FLEX)
    assert isinstance(parsed.output_parsed, Forecast)


@pytest.mark.parametrize("start_within,served", [
    ("default", "default"), ("priority", "priority"), ("auto", "default"), ("00h-01m-00s", "flex")])
def test_each_start_within_gets_its_tier(door, start_within, served):
    client = openai_client(door)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-5-mini", messages=[{"role": "user", "content": "x"}], extra_body={"start_within": start_within})
    assert raw.parse().service_tier == served
    assert json.loads(raw.headers["flexd-savings"])["start_within"] == start_within
    # The header says the same as the body field.
    by_header = client.chat.completions.with_raw_response.create(
        model="gpt-5-mini", messages=[{"role": "user", "content": "x"}], extra_headers={"flexd-start-within": start_within})
    assert by_header.parse().service_tier == served


def test_openai_errors_are_the_sdks_own_with_flexds_code(door):
    client = openai_client(door)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-5-mini", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "missing_start_within" and info.value.param == "start_within"
    assert info.value.body["flexd"] == {"code": "missing_start_within", "retryable": False}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-5-mini", messages=[{"role": "user", "content": "x"}],
                                       extra_body={"start_within": "soon"})
    assert info.value.code == "invalid_start_within" and "00h-00m-30s" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-5-mini", messages=[{"role": "user", "content": "x"}],
                                       service_tier="flex", extra_body=FLEX)
    assert info.value.code == "service_tier_not_allowed" and info.value.param == "service_tier"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}], extra_body=FLEX)
    assert info.value.code == "model_not_flex_capable"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-404", messages=[{"role": "user", "content": "x"}], extra_body=FLEX)
    assert info.value.code == "unknown_model"


def test_a_providers_own_error_keeps_its_status_and_body(door):
    bad = openai.OpenAI(api_key="not-a-key", base_url=f"{door.base}/openai/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="gpt-5-mini", messages=[{"role": "user", "content": "x"}], extra_body=FLEX)
    assert info.value.status_code == 401 and info.value.code == "invalid_api_key"  # the provider's code
    assert info.value.body["flexd"] == {"code": "upstream_unauthenticated", "retryable": False}
    assert "not-a-key" not in info.value.response.text
    with pytest.raises(anthropic.AuthenticationError) as info:
        anthropic.Anthropic(api_key="not-a-key", base_url=f"{door.base}/anthropic", max_retries=0).messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}], extra_body={"start_within": "default"})
    assert info.value.body["error"]["type"] == "authentication_error"
    assert info.value.body["error"]["flexd"]["code"] == "upstream_unauthenticated"
    gemini = genai.Client(api_key="not-a-key", http_options=types.HttpOptions(
        base_url=f"{door.base}/gemini", retry_options=types.HttpRetryOptions(attempts=1), extra_body=FLEX))
    with pytest.raises(errors.ClientError) as info:
        gemini.models.generate_content(model="gemini-2.5-flash", contents="x")
    # Google answers a bad key 400 API_KEY_INVALID: the provider's status is kept, and flexd's code
    # says what it is.
    assert info.value.code == 400 and info.value.details["error"]["flexd"]["code"] == "upstream_unauthenticated"
    assert info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


# MARK: - Anthropic


def test_anthropic_messages_unary_streamed_tools_thinking_and_images(door):
    client = anthropic_client(door)
    raw = client.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=200, messages=[
        {"role": "user", "content": [{"type": "text", "text": "What?"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}],
        extra_body={"start_within": "default"})
    message = raw.parse()
    assert message.stop_reason == "end_turn" and message.usage.service_tier == "standard"
    assert raw.headers["flexd-tier-served"] == "standard"
    with client.messages.stream(model="claude-opus-4-6", max_tokens=300, tools=ANTHROPIC_TOOLS,
                                messages=[{"role": "user", "content": "Weather and time?"}],
                                extra_headers={"flexd-start-within": "priority"}) as stream:
        final = stream.get_final_message()
    assert [b.name for b in final.content if b.type == "tool_use"] == ["get_weather", "get_time"]
    thinking = client.messages.create(model="claude-sonnet-4-6", max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024},
                                      messages=[{"role": "user", "content": "Think"}], extra_body={"start_within": "auto"})
    assert thinking.content[0].type == "thinking" and thinking.content[1].type == "text"


def test_anthropic_and_gemini_streams_carry_their_record_billed_to_the_unit(door_and_sim):
    door, sim = door_and_sim
    body = {"model": "claude-haiku-4-5", "max_tokens": 200, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    status, headers, lines, trailers = raw_stream(door, "/anthropic/v1/messages", body, {
        "x-api-key": "sk-ant-door", "anthropic-version": "2023-06-01", "flexd-start-within": "default"})
    assert status == 200 and headers["trailer"] == "flexd-savings" and headers["flexd-tier-served"] == "standard"
    assert "event: message_stop" in lines
    record = savings_trailer(lines)
    assert json.loads(trailers["flexd-savings"]) == record
    assert billed(sim, record["request_id"])["cost_picousd"] == record["actual_cost_picousd"] > 0
    body = {"contents": [{"parts": [{"text": "Hi"}]}], "start_within": "00h-01m-00s"}
    status, headers, lines, trailers = raw_stream(
        door, "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body, {"x-goog-api-key": "AIzaDoor"})
    assert status == 200 and not [line for line in lines if line.startswith(":")]  # the SDK would parse it as JSON
    record = json.loads(trailers["flexd-savings"])
    assert record["tier_served"] == "flex" and record["saved_picousd"] > 0
    assert billed(sim, record["request_id"])["cost_picousd"] == record["actual_cost_picousd"]


def test_anthropic_errors_are_the_sdks_own_with_flexds_code(door):
    client = anthropic_client(door)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}], extra_body=FLEX)
    error = info.value.body["error"]
    assert error["type"] == "invalid_request_error" and error["flexd"]["code"] == "flex_unsupported_for_anthropic"
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["error"]["flexd"]["code"] == "missing_start_within"


# MARK: - Gemini


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_gemini_generate_content_with_the_sdks_default_version_and_v1beta(door, api_version):
    client = genai_client(door, api_version)
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Hello")
    assert len(response.text) > 0 and response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.sdk_http_response.headers["flexd-tier-served"] == "flex"
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash-lite", contents="Tell me"))
    assert chunks[-1].usage_metadata.candidates_token_count > 0 and len("".join(c.text or "" for c in chunks)) > 0


def test_gemini_tools_structured_output_and_thoughts(door):
    client = genai_client(door)
    response = client.models.generate_content(model="gemini-2.5-pro", contents="Weather and time?", config=types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER, TIME])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)))
    assert [c.name for c in response.function_calls] == ["get_weather", "get_time"]
    streamed = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Weather and time?",
                                                          config=types.GenerateContentConfig(
                                                              tools=[types.Tool(function_declarations=[WEATHER, TIME])],
                                                              automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))))
    assert [c.name for chunk in streamed for c in (chunk.function_calls or [])] == ["get_weather", "get_time"]

    class City(pydantic.BaseModel):
        name: str
        population: int

    structured = client.models.generate_content(model="gemini-2.5-flash", contents="A city", config=types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=City, thinking_config=types.ThinkingConfig(include_thoughts=True)))
    assert isinstance(structured.parsed, City) and any(p.thought for p in structured.candidates[0].content.parts)


def test_gemini_image_input_and_streamed_responses_tool_arguments(door):
    gemini = genai_client(door)  # held: a client the GC collects closes its connections mid-call
    response = gemini.models.generate_content(model="gemini-2.5-flash", contents=[
        types.Part.from_bytes(data=__import__("base64").b64decode(PNG), mime_type="image/png"), "What is this?"])
    assert response.text and response.usage_metadata.prompt_token_count > 1
    tools = [{"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"]} for t in OPENAI_TOOLS]
    events = list(openai_client(door).responses.create(model="gpt-5", input="Weather and time?", tools=tools, stream=True, extra_body=FLEX))
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert deltas and len(done) == 2 and all(json.loads(d.arguments) for d in done)


def test_gemini_interactions(door):
    client = genai_client(door, "v1beta")
    interaction = client.interactions.create(model="gemini-2.5-flash", input="Hello", extra_body=FLEX)
    assert interaction.status == "completed" and interaction.service_tier == "flex"
    events = list(client.interactions.create(model="gemini-2.5-flash", input="Hello", stream=True, extra_body=FLEX))
    assert events[0].event_type == "interaction.created" and events[-1].event_type == "interaction.completed"


def test_gemini_errors_are_the_sdks_own_with_flexds_code(door):
    client = genai_client(door)
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents="x",
                                       config=types.GenerateContentConfig(http_options=types.HttpOptions(extra_body={"start_within": "auto"})))
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert info.value.details["error"]["flexd"]["code"] == "auto_unsupported_for_gemini"


# MARK: - The single base URL, the model listing


def test_the_single_base_url_takes_the_provider_from_the_model(door):
    openai_v1 = openai_client(door, "/v1")
    chat = openai_v1.chat.completions.create(model="gpt-5-mini", messages=[{"role": "user", "content": "x"}], extra_body=FLEX)
    assert chat.service_tier == "flex"
    assert openai_v1.responses.create(model="gpt-5-mini", input="x", extra_body=FLEX).status == "completed"
    message = anthropic_client(door, "").messages.create(model="claude-haiku-4-5", max_tokens=20,
                                                         messages=[{"role": "user", "content": "x"}], extra_body={"start_within": "default"})
    assert message.usage.service_tier == "standard"
    with pytest.raises(openai.BadRequestError) as info:
        openai_v1.chat.completions.create(model="claude-haiku-4-5", messages=[{"role": "user", "content": "x"}], extra_body=FLEX)
    assert info.value.code == "api_provider_mismatch" and "messages" in info.value.message


def test_the_model_listing_says_what_each_model_supports(door):
    models = {m.id: m for m in openai_client(door, "/v1").models.list()}
    assert models["gpt-5-mini"].model_extra["flexd"] == {"provider": "openai", "flex_race": True, "tiers": ["flex", "standard", "priority"]}
    assert models["claude-haiku-4-5"].model_extra["flexd"]["flex_race"] is False
    only_openai = [m.id for m in openai_client(door).models.list()]
    assert "gpt-5-mini" in only_openai and "claude-haiku-4-5" not in only_openai
    anthropic_models = [m.id for m in anthropic_client(door).models.list()]
    assert "claude-haiku-4-5" in anthropic_models


# MARK: - Drain


def test_sigterm_lets_the_calls_in_flight_finish(tmp_path):
    profile = tmp_path / "slow-flex.json"
    profile.write_text(json.dumps({
        "name": "slow-flex", "description": "flex waits 1 s in the queue",
        "tiers": {t: {"ttft_s": {"kind": "constant", "value": 0.05}, "tokens_per_s": 0} for t in ("flex", "standard", "priority")},
        "flex": {"refusal_probability": 0, "scarce": {"fraction": 0, "window_s": 60, "refusal_probability": 0, "wait_multiplier": 1},
                 "queue_wait_s": {"kind": "constant", "value": 1}, "concurrency": 0, "max_queue_wait_s": 0, "preamble_while_queued": True},
        "priority_downgrade_probability": 0}))
    server = Flexd("--upstream", "sim", "--sim-profile", str(profile))
    try:
        client = openai_client(server)

        def call(index):
            if index % 2:
                return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                    model="gpt-5-mini", messages=[{"role": "user", "content": "x"}], stream=True, extra_body=FLEX) if c.choices)
            return client.chat.completions.create(model="gpt-5-mini", messages=[{"role": "user", "content": "x"}],
                                                  extra_body=FLEX).choices[0].message.content

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(call, i) for i in range(6)]
            time.sleep(0.4)
            server.proc.send_signal(signal.SIGTERM)
            answers = [f.result(timeout=30) for f in futures]
        assert all(len(a) > 0 for a in answers), answers
        assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()


# MARK: - Hostile clients


def hostile(port, index):
    """One hostile exchange on a fresh connection, read until flexd closes it (well-formed requests say
    `connection: close`); a request flexd still waits for is abandoned after 50 ms."""
    import socket
    tiered = b'{"model":"gpt-5-mini","service_tier":"flex"}'
    kinds = [
        b"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 9\r\n\r\n{not json",
        b"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 999999999\r\n\r\n" + b"a" * 65536,
        b"GET /openai/v1/nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        b"DELETE /anthropic/v1/messages HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n",
        b"POST /gemini/v1beta/models/x:generateContent HTTP/1.1\r\nhost: x\r\ncontent-length: 500\r\n\r\n{\"contents\":",
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(tiered), tiered),
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: " + b"b" * 100_000 + b"\r\n\r\n",
        b"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"POST /openai/v1/responses HTTP/1.1\r\nhost: x\r\n",  # a head that never ends
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(kinds[index % len(kinds)])
            s.shutdown(socket.SHUT_WR) if index % 3 == 0 else None
            s.settimeout(0.05 if index % len(kinds) in (5, 9) else 10)
            while s.recv(65536):
                pass
        except OSError:
            pass  # reset, or our own timeout on a request flexd still waits for: we hang up


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_rss_stays_flat_after_thousands_of_hostile_requests():
    server = Flexd("--upstream", "sim", "--sim-profile", "instant")
    try:
        def storm(count, offset):
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda i: hostile(server.port, i), range(offset, offset + count)))

        storm(1000, 0)  # warms the allocator, the event loops' buffers and the thread pools
        settled = resident_kib(server.proc.pid)
        storm(4000, 1000)
        after = resident_kib(server.proc.pid)
        print(f"flexd RSS after 1,000 hostile requests {settled} KiB, after 4,000 more {after} KiB")
        assert after - settled < 16 * 1024, f"RSS grew from {settled} KiB to {after} KiB over 4,000 hostile requests"
        # And the door still serves.
        completion = openai_client(server).chat.completions.create(
            model="gpt-5-mini", messages=[{"role": "user", "content": "x"}], extra_body=FLEX)
        assert completion.choices[0].message.content
    finally:
        server.stop()


# MARK: - Retries on the settled tier


RETRY_PROFILE = {
    "name": "retry-once",
    "tiers": {tier: {"ttft_s": {"kind": "constant", "value": 0}, "tokens_per_s": 0}
              for tier in ("flex", "standard", "priority")},
    "flex": {"refusal_probability": 0,
             "scarce": {"fraction": 0, "window_s": 60, "refusal_probability": 0, "wait_multiplier": 1},
             "queue_wait_s": {"kind": "constant", "value": 0}, "concurrency": 0, "max_queue_wait_s": 0,
             "preamble_while_queued": True},
    # Each request id's first request is a 500 (flexsim's fail_first), the next one is answered.
    "faults": [{"probability": 1, "fault": "status=500,fail_first=1"}],
}


def test_openai_sdk_retry_in_extra_body_is_honoured_counted_and_validated():
    with tempfile.NamedTemporaryFile("w", suffix=".json") as profile:
        json.dump(RETRY_PROFILE, profile)
        profile.flush()
        sim = conftest_flexsim("--profile", profile.name)
        try:
            door = Flexd("--openai-base-url", f"{sim.base}/openai/v1",
                         "--correlation-header", "x-flexsim-correlation-id")
            try:
                client = openai_client(door)
                raw = client.chat.completions.with_raw_response.create(
                    model="gpt-5-mini", messages=[{"role": "user", "content": "Say hello"}],
                    extra_body={"start_within": "default", "retry": {"count": 2, "backoff": "linear"}},
                    extra_headers={"flexd-request-id": "sdk-retry-1"})
                assert raw.parse().choices[0].message.content
                assert raw.headers["flexd-retries"] == "1"
                record = json.loads(raw.headers["flexd-savings"])
                assert record["retries"] == 1 and record["tokens_estimated"] is False
                rows = [r for r in sim.ledger() if r.get("correlation_id") == "sdk-retry-1"]
                assert [r["status"] for r in rows] == [500, 200], rows
                assert sum(1 for r in rows if r["billed"]) == 1
                assert record["actual_cost_picousd"] == sum(r["cost_picousd"] for r in rows)

                # Without the option (and --retries 0) the 500 comes back as the SDK's own error.
                with pytest.raises(openai.InternalServerError) as info:
                    client.chat.completions.create(
                        model="gpt-5-mini", messages=[{"role": "user", "content": "x"}],
                        extra_body={"start_within": "default"}, extra_headers={"flexd-request-id": "sdk-retry-0"})
                assert info.value.body["flexd"]["code"] == "upstream_unavailable"

                for retry in ({"count": 0}, {"count": 6}, {"count": "2"}, {"count": 2, "backoff": "fibonacci"},
                              {"count": 2, "jitter": "yes"}, {"count": 2, "tries": 1}, [2]):
                    with pytest.raises(openai.BadRequestError) as info:
                        client.chat.completions.create(
                            model="gpt-5-mini", messages=[{"role": "user", "content": "x"}],
                            extra_body={"start_within": "default", "retry": retry})
                    assert info.value.code == "invalid_retry", retry
                    assert info.value.body["flexd"] == {"code": "invalid_retry", "retryable": False}
            finally:
                door.stop()
        finally:
            sim.stop()


def conftest_flexsim(*args):
    from conftest import Flexsim
    return Flexsim(*args, price_date=None)
