"""The database, restarts, the admin CLI's tokens, and where secrets may (not) appear (spec 6, 7, 8)."""

import pytest

from conftest import Server, assert_clean_exit, expect_error, random_id, unique, validate


def test_created_token_survives_kill_9(backend, latchkey_bin, tmp_path):
    db_url, fresh = backend.fresh_database()
    first = Server(latchkey_bin, tmp_path, fresh=fresh, db_url=db_url)
    try:
        admin = first.client(first.admin_token)
        app = admin.applications.post(application={"name": "durable"})
        token = admin.application_api_tokens.post(
            applicationId=app["id"], apiToken={"name": "durable", "scope": ["applicationApiTokens.get"]}
        )
    finally:
        first.kill()  # the next instant after the 201, no clean shutdown
    assert first.proc.returncode == -9

    second = Server(latchkey_bin, tmp_path, fresh=False, db_url=db_url)
    try:
        # not a new database: no second admin token is printed
        assert second.admin_token is None, second.log()
        listing = second.client(token["token"]).application_api_tokens.get(applicationId=app["id"])
        assert [t["id"] for t in listing["items"]] == [token["id"]]
        # the first start's admin token still works: keys and records are in the file
        assert second.client(first.admin_token).application.get(applicationId=app["id"])["name"] == "durable"
    finally:
        second.stop()
    assert_clean_exit(second)


def test_admin_cli_seed_tokens_are_created_by_the_user(server, admin, app, admin_record):
    server.cli("admin", "seed", "--database", server.db_url, "--app", app["id"], "--count", "3", "--prefix", "cli")
    listing = admin.application_api_tokens.get(applicationId=app["id"])
    validate(listing, "apiTokens.json")
    assert [t["name"] for t in listing["items"]] == ["cli-0000000", "cli-0000001", "cli-0000002"]
    assert listing["totalCount"] == 3
    for t in listing["items"]:
        assert t["creatorType"] == "user"
        assert t["creatorId"] == admin_record["ownerId"]  # the admin user's id
        assert t["creatorName"] == "admin"
        assert t["ownerId"] == app["id"]
    # the counter behind totalCount follows HTTP changes after the CLI's too
    admin.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "http"})
    assert admin.application_api_tokens.get(applicationId=app["id"], perPage=1)["totalCount"] == 4
    admin.application_api_token.delete(applicationId=app["id"], apiTokenId=listing["items"][0]["id"])
    assert admin.application_api_tokens.get(applicationId=app["id"], perPage=1)["totalCount"] == 3


def test_secret_appears_nowhere_after_creation(backend, server, admin, app, mint):
    created = mint(app["id"], ["applicationApiTokens.get"])
    secret = created["token"]
    signature = secret.rsplit(".", 1)[1]
    holder = server.client(secret)
    bodies = []

    # used well, used badly, looked at, then revoked
    bodies.append(holder.application_api_tokens.get(applicationId=app["id"]))
    bodies.append(expect_error(403, holder.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "x"}))
    bodies.append(expect_error(404, holder.application_api_tokens.get, applicationId=random_id()))
    bodies.append(expect_error(400, holder.application_api_tokens.get, applicationId=app["id"], sortField="bad"))
    bodies.append(admin.application_api_token.get(applicationId=app["id"], apiTokenId=created["id"]))
    bodies.append(holder.request("GET", "/auth/introspect"))
    bodies.append(admin.application_api_token.patch(applicationId=app["id"], apiTokenId=created["id"], apiToken={"status": "inactive"}))
    bodies.append(expect_error(401, holder.application_api_tokens.get, applicationId=app["id"]))
    bodies.append(expect_error(401, server.client(secret + "x").application_api_tokens.get, applicationId=app["id"]))
    for body in bodies:
        text = str(body)
        assert secret not in text and signature not in text, text

    # not in the log
    with server._cond:
        log = "\n".join(server.lines)
    assert secret not in log and signature not in log

    # not in the database (only a digest is kept)
    if server.db_path is not None:
        # the SQLite file, its write-ahead log and shared memory
        for suffix in ("", "-wal", "-shm"):
            path = server.db_path.with_name(server.db_path.name + suffix)
            if path.exists():
                data = path.read_bytes()
                assert secret.encode() not in data, path.name
                assert signature.encode() not in data, path.name
    else:
        # a server-backed database: everything it holds, as pg_dump prints it
        data = backend.dump(server.db_url)
        if data is not None:
            assert created["id"].encode() in data, "the dump does not hold the token's record"
            assert secret.encode() not in data, "the database holds the token"
            assert signature.encode() not in data, "the database holds the token's signature"


def test_another_fresh_database_has_its_own_admin(backend, latchkey_bin, tmp_path):
    workdir = tmp_path / unique("db")
    workdir.mkdir()
    if backend.name == "sqlite":
        db_url = None
    else:
        try:
            db_url = backend.new_postgres_database()
        except RuntimeError as e:
            pytest.skip("no fresh PostgreSQL database can be made: %s" % e)
    other = Server(latchkey_bin, workdir, db_url=db_url)
    try:
        client = other.client(other.admin_token)
        assert client.applications.get()["items"] == []
        me = client.request("GET", "/auth/introspect")
        assert me["scope"] == ["all.User"] and me["ownerType"] == "user"
    finally:
        other.stop()
    assert_clean_exit(other)
