"""The seed document's own Python examples, run as written (seed: Get and Post)."""

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from conftest import REPO, validate


def seed_path():
    # The project's copy of the seed document; LATCHKEY_SEED_DOC overrides.
    override = os.environ.get("LATCHKEY_SEED_DOC")
    return Path(override) if override else REPO / "spec" / "application-api-tokens.md"


@pytest.fixture(scope="module")
def examples():
    path = seed_path()
    assert path.exists(), "the seed document is missing: %s (set LATCHKEY_SEED_DOC)" % path
    text = path.read_text(encoding="utf-8")
    found = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
        if blocks:
            found[title] = blocks[0]
    assert set(found) >= {"Get", "Post"}, found
    return found


def run(code, **names):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "seed example", "exec"), names)  # noqa: S102 - the document's code, as written
    return names, out.getvalue()


def test_seed_get_example(server, admin, app, mint, examples):
    made = mint(app["id"], ["device.get"], name="seeded")
    names, printed = run(examples["Get"], client=server.client(server.admin_token), my_application_id=app["id"])
    result = names["result"]
    validate(result, "apiTokens.json")
    assert [t["id"] for t in result["items"]] == [made["id"]]
    assert result["totalCount"] == 1
    assert printed.strip() == str(result)


def test_seed_post_example(server, admin, app, examples):
    my_api_token = {"name": "from the seed", "description": "seed example", "scope": ["device.sendState"]}
    validate(my_api_token, "applicationApiTokenPost.json")
    names, printed = run(
        examples["Post"],
        client=server.client(server.admin_token),
        my_application_id=app["id"],
        my_api_token=my_api_token,
    )
    result = names["result"]
    validate(result, "apiToken.json")
    assert result["name"] == "from the seed"
    assert result["scope"] == ["device.sendState"]
    assert result["token"]
    assert printed.strip() == str(result)
    listed = admin.application_api_tokens.get(applicationId=app["id"])
    assert [t["id"] for t in listed["items"]] == [result["id"]]


def test_seed_example_with_an_application_token(server, app, mint, examples):
    """The same examples with the client configured with an application token."""
    holder = mint(app["id"], ["applicationApiTokens.*", "device.sendState"])
    client = server.client(holder["token"])
    names, _ = run(
        examples["Post"],
        client=client,
        my_application_id=app["id"],
        my_api_token={"name": "child", "scope": ["device.sendState"]},
    )
    assert names["result"]["creatorId"] == holder["id"]
    names, _ = run(examples["Get"], client=client, my_application_id=app["id"])
    assert sorted(t["name"] for t in names["result"]["items"]) == sorted([holder["name"], "child"])
