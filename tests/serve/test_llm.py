"""The bundled model's llama.cpp server as studio finds it again."""

from __future__ import annotations

import threading
import time

import pytest
from openai import OpenAI

from studio.serve import llm

pytestmark = pytest.mark.llm


def test_a_server_busy_decoding_is_found_again_not_started_twice(llm_server) -> None:
    # While it decodes, a server can be slow to answer a probe: another studio process asking for the server
    # then must find this one, not start a second.
    client = OpenAI(base_url=llm_server.base_url, api_key="none")
    asking = threading.Thread(
        target=lambda: client.chat.completions.create(
            model=llm_server.model,
            messages=[{"role": "user", "content": "Tell a long story about a forest of grey trees."}],
            max_tokens=300,
            temperature=0,
        )
    )
    asking.start()
    time.sleep(1.0)  # the request is in: some 300 tokens to decode, several seconds here
    found, started = llm.serve()
    asking.join()
    assert not started and found.pid == llm_server.pid
    assert llm.status().pid == llm_server.pid
