"""What each planned item is asked with, and in which order a serial endpoint is asked."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import studio
from studio.records import read_records
from studio.runs import Run
from tests.conftest import copy_project


def switches(prompts: list[str]) -> int:
    return sum(a != b for a, b in itertools.pairwise(prompts))


def test_a_serial_endpoint_is_asked_in_the_prompts_order_and_the_files_keep_the_plans(
    tmp_path: Path, fake_openai
) -> None:
    # One request at a time, as the bundled model's llama.cpp server takes them: items whose prompts open alike
    # go one after another, so its prompt cache skips the shared system part.
    server = fake_openai("--record")
    settings = {
        "endpoint.base_url": server.base_url,
        "endpoint.model": "fake",
        "endpoint.structured_output": "json_object",
        "endpoint.concurrency": 1,
        "generate.n": 30,
    }
    result = studio.generate(copy_project(tmp_path, settings), show_progress=False)
    asked = [c["messages"] for c in server.stats()["chats"] if c.get("response_format")][-30:]
    systems = [m[0]["content"] for m in asked]
    kinds = set(systems)
    assert len(kinds) >= 3 and switches(systems) == len(kinds) - 1  # each system prompt in one block

    run = Run(result["run_dir"])
    plan = json.loads(run.file("plan").read_text())["items"]
    planned = [i["id"] for i in plan]
    files = [[r.id for r in read_records(run.file(name))] for name in ("generated", "rejected")]
    assert sorted(files[0] + files[1]) == sorted(planned)
    assert all(ids == [i for i in planned if i in ids] for ids in files)  # each file in the plan's order
    by_kind = [i["axes"]["kind"] for i in plan]
    assert switches(by_kind) > len(set(by_kind)) - 1  # the plan interleaves kinds: the order above is studio's


def test_no_endpoint_decodes_to_a_length_limit_and_the_schema_still_holds_them(tmp_path: Path) -> None:
    # A grammar (llama-server's, vLLM's) ends a string at maxLength, mid-word ("... was an isl"), and OpenAI's
    # strict mode refuses the keyword: no mode sends it, and a reply past it fails the domain schema (then a
    # repair, or a reason to reject).
    from studio.generation.plan import plan
    from studio.generation.requests import Requests
    from studio.project import load_project
    from studio.target import Target

    p = load_project(copy_project(tmp_path))
    history = next(i for i in plan(p, 60) if i.axes["kind"] == "history")
    for kind in ("local", "loopback", "remote"):
        for mode in ("json_schema", "json_object"):
            schema, messages, params = Requests(p, Target("http://127.0.0.1:1/v1", "m", None, kind), mode).request(
                history
            )
            sent = json.dumps(params["response_format"])
            assert '"maxLength"' not in sent, (kind, mode)
            # json_object (llama.cpp's grammar) keeps the lower bounds; strict mode takes none.
            assert ('"minLength"' in sent) is (mode == "json_object"), (kind, mode)
            assert '"maxLength": 60' in messages[0]["content"]  # the prompt still tells the model
    place = schema.schema["properties"]["place"]
    assert place["maxLength"] == 60
    item = {"kind": "history", "text": "Penguin wood came to the isles with the first boatbuilders of the south."}
    too_long = {
        **item,
        "era": "late 18th century",
        "place": "The origins and history of penguin wood on the southern isles",
    }
    assert schema.check({**item, "era": "late 18th century", "place": "the southern isles"}) == []
    assert schema.check(too_long)


def test_a_pattern_is_decoded_to_where_a_mode_can_and_shown_in_the_prompt_where_it_cannot(tmp_path: Path) -> None:
    # The place of a history item is a name of letters only: a grammar or strict mode holds the reply to it and
    # the prompt leaves it out (a small model echoes it); in text mode the prompt is all the model has.
    from studio.generation.plan import plan
    from studio.generation.requests import Requests
    from studio.project import load_project
    from studio.target import Target

    p = load_project(copy_project(tmp_path))
    history = next(i for i in plan(p, 60) if i.axes["kind"] == "history")
    requests = Requests(p, Target("http://127.0.0.1:1/v1", "m", None, "loopback"), "json_object")
    for mode in ("json_schema", "json_object", "text"):
        _, messages, params = requests.request(history, mode=mode)
        decoded = json.dumps(params.get("response_format") or {})
        assert ('"pattern"' in messages[0]["content"]) is (mode == "text"), mode
        assert ("^[A-Za-z][A-Za-z' -]*$" in decoded) is (mode != "text"), mode
