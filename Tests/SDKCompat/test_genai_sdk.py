"""The official google-genai SDK against flexsim: generateContent, streamGenerateContent and the
Interactions API, with tools, structured output, thinking, served tier and errors."""
import pydantic
import pytest
from google import genai
from google.genai import errors, types


class City(pydantic.BaseModel):
    name: str
    population: int
    tags: list[str]


WEATHER = types.FunctionDeclaration(name="get_weather", parameters_json_schema={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
TIME = types.FunctionDeclaration(name="get_time", parameters_json_schema={
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]})


def make_client(server, key="AIzaTest"):
    return genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=f"{server.base}/gemini", api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)))


@pytest.fixture
def client(sim):
    return make_client(sim)


def test_generate_content_flex(client, sim):
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Hello",
                                              config=types.GenerateContentConfig(service_tier="flex"))
    assert isinstance(response, types.GenerateContentResponse)
    assert len(response.text) > 0
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0 and usage.thoughts_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    assert response.sdk_http_response.headers["x-gemini-service-tier"] == "flex"
    row = [r for r in sim.ledger() if r["response_id"] == response.response_id][0]
    assert row["tier_served"] == "flex" and row["api"] == "generate_content" and row["billed"]


def test_stream_generate_content(client):
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash-lite", contents="Tell me"))
    assert all(isinstance(c, types.GenerateContentResponse) for c in chunks)
    assert chunks[-1].usage_metadata.candidates_token_count > 0
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert len("".join(c.text or "" for c in chunks)) > 0


def test_function_calls(client):
    response = client.models.generate_content(model="gemini-2.5-pro", contents="Weather and time?", config=types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER, TIME])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)))
    calls = response.function_calls
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert isinstance(calls[0].args["city"], str)


def test_structured_output_and_thoughts(client):
    response = client.models.generate_content(model="gemini-2.5-flash", contents="A city", config=types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=City,
        thinking_config=types.ThinkingConfig(include_thoughts=True)))
    assert isinstance(response.parsed, City)
    assert any(p.thought for p in response.candidates[0].content.parts)


def test_interactions_non_streaming(client):
    interaction = client.interactions.create(model="gemini-2.5-flash", input="Hello", service_tier="flex")
    assert interaction.status == "completed"
    assert interaction.service_tier == "flex"
    assert interaction.usage.total_output_tokens > 0 and interaction.usage.total_input_tokens > 0
    assert any(step.type == "model_output" for step in interaction.steps)


def test_interactions_streaming(client):
    events = list(client.interactions.create(model="gemini-2.5-flash", input="Hello", stream=True))
    kinds = [e.event_type for e in events]
    assert kinds[0] == "interaction.created" and kinds[-1] == "interaction.completed"
    assert "step.start" in kinds and "step.delta" in kinds and "step.stop" in kinds
    assert kinds.index("step.start") < kinds.index("step.delta") < kinds.index("step.stop")
    assert events[-1].interaction.usage.total_output_tokens > 0


def test_interactions_tools_and_schema(client):
    interaction = client.interactions.create(model="gemini-2.5-flash", input="Weather?", tools=[
        {"type": "function", "name": "get_weather", "parameters": WEATHER.parameters_json_schema}])
    calls = [s for s in interaction.steps if s.type == "function_call"]
    assert calls and calls[0].name == "get_weather" and calls[0].arguments["city"]
    assert interaction.status == "requires_action"
    structured = client.interactions.create(model="gemini-2.5-flash", input="A city", response_format={
        "type": "text", "mime_type": "application/json", "schema": City.model_json_schema()})
    City.model_validate_json(structured.output_text)


def test_errors(client, sim, outage):
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-9", contents="x")
    assert info.value.code == 404
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-4-argon", contents="x", config=types.GenerateContentConfig(service_tier="flex"))
    assert info.value.code == 400
    with pytest.raises(errors.ClientError) as info:
        bad = make_client(sim, key="nope")
        bad.models.generate_content(model="gemini-2.5-flash", contents="x")
    # Google's answer to a key it does not know: 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert info.value.message == "API key not valid. Please pass a valid API key."
    assert info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    with pytest.raises(errors.ServerError) as info:
        refused = make_client(outage)
        refused.models.generate_content(model="gemini-2.5-flash", contents="x", config=types.GenerateContentConfig(service_tier="flex"))
    assert info.value.code == 503


def test_streamed_function_calls(client):
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Weather and time?", config=types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER, TIME])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))))
    calls = [call for chunk in chunks for call in (chunk.function_calls or [])]
    assert [c.name for c in calls] == ["get_weather", "get_time"]


def test_interactions_streamed_function_call(client):
    events = list(client.interactions.create(model="gemini-2.5-flash", input="Weather?", stream=True, tools=[
        {"type": "function", "name": "get_weather", "parameters": WEATHER.parameters_json_schema}]))
    starts = [e for e in events if e.event_type == "step.start"]
    assert any(s.step.type == "function_call" and s.step.name == "get_weather" for s in starts)
    deltas = "".join(e.delta.arguments for e in events if e.event_type == "step.delta" and e.delta.type == "arguments_delta")
    import json
    assert json.loads(deltas)["city"]
    assert events[-1].interaction.status == "requires_action"


def test_in_stream_overload(client):
    fault = types.HttpOptions(headers={"x-flexsim-fault": "stream_error"})
    with pytest.raises(errors.APIError) as info:
        for _ in client.models.generate_content_stream(model="gemini-2.5-flash", contents="x",
                                                       config=types.GenerateContentConfig(http_options=fault)):
            pass
    assert info.value.code == 503


def test_the_sdks_default_api_version(sim):
    """google-genai as a user first runs it, with no api_version: its default (v1) routes."""
    client = genai.Client(api_key="AIzaTest", http_options=types.HttpOptions(
        base_url=f"{sim.base}/gemini", retry_options=types.HttpRetryOptions(attempts=1)))
    assert client._api_client._http_options.api_version == "v1"  # the default, not an override
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Hello",
                                              config=types.GenerateContentConfig(service_tier="flex"))
    assert len(response.text) > 0 and response.usage_metadata.candidates_token_count > 0
    assert response.sdk_http_response.headers["x-gemini-service-tier"] == "flex"
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Tell me"))
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    interaction = client.interactions.create(model="gemini-2.5-flash", input="Hello", service_tier="flex")
    assert interaction.status == "completed" and interaction.service_tier == "flex"
    rows = {r["response_id"]: r for r in sim.ledger()}
    assert rows[response.response_id]["tier_served"] == "flex" and rows[response.response_id]["billed"]
    assert rows[interaction.id]["api"] == "interactions" and rows[interaction.id]["billed"]
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-9", contents="x")
    assert info.value.code == 404 and "API version v1," in info.value.message
