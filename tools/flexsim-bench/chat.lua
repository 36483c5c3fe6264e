-- wrk script: small non-streaming Chat Completions requests with a key, as a router would send.
wrk.method = "POST"
wrk.path = "/openai/v1/chat/completions"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-5-mini","messages":[{"role":"user","content":"Say hello in five words."}],"max_completion_tokens":64}'
