"""Runs schemathesis against a live Latchkey: starts `latchkey serve` on a
free loopback port with a fresh SQLite database, reads the admin token from
its standard error, creates what the path parameters name, runs
`st run` with tests/openapi/schemathesis.toml, and stops the server.

Exits non-zero when schemathesis finds a failure, when it runs past its time
limit, or when the server died or panicked meanwhile.

    LATCHKEY_BIN=target/debug/latchkey python tests/openapi/run.py
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
LISTENING = "latchkey: listening on "
ADMIN_TOKEN = "latchkey: admin token: "
STARTUP_LIMIT_S = 20
# A hard limit on the whole schemathesis run.
RUN_LIMIT_S = 240


def start_server(binary, database):
    """The server process, its base URL, its admin token and its log lines."""
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--database", f"sqlite://{database}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = []
    found = {}
    started = threading.Event()

    def read():
        for line in server.stderr:
            log.append(line)
            if line.startswith(ADMIN_TOKEN):
                found["token"] = line[len(ADMIN_TOKEN):].strip()
            if line.startswith(LISTENING):
                found["url"] = line[len(LISTENING):].strip()
                started.set()
        started.set()

    threading.Thread(target=read, daemon=True).start()
    if not started.wait(STARTUP_LIMIT_S) or "url" not in found or "token" not in found:
        server.kill()
        sys.exit("the server did not start:\n" + "".join(log))
    return server, found["url"], found["token"], log


def post(url, token, body):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["id"]


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def organization_of_admin(binary, database):
    """A new organization whose member is the admin user; its id."""
    command = [binary, "admin", "org", "create", "--database", f"sqlite://{database}", "--name", "schemathesis"]
    command += ["--member", "admin"]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout.strip()


def main():
    binary = os.environ.get("LATCHKEY_BIN", "target/debug/latchkey")
    schemathesis = pathlib.Path(sys.executable).with_name("st")
    with tempfile.TemporaryDirectory() as scratch:
        database = pathlib.Path(scratch, "latchkey.db")
        server, url, admin, log = start_server(binary, database)
        try:
            # Before the admin token's first use, so its reach includes it.
            org = organization_of_admin(binary, database)
            org_application = post(f"{url}/applications", admin, {"name": "schemathesis's org", "orgId": org})
            # The newest entry of the organization's audit log: that creation.
            audit_log = get(f"{url}/orgs/{org}/audit-logs", admin)["items"][0]["id"]
            application = post(f"{url}/applications", admin, {"name": "schemathesis"})
            doomed_application = post(f"{url}/applications", admin, {"name": "schemathesis, to delete"})
            tokens = f"{url}/applications/{application}/tokens"
            env = dict(
                os.environ,
                SCHEMATHESIS_HOOKS=str(HERE / "hooks.py"),
                LATCHKEY_URL=url,
                LATCHKEY_ADMIN_TOKEN=admin,
                LATCHKEY_APPLICATION_ID=application,
                LATCHKEY_TOKEN_ID=post(tokens, admin, {"name": "schemathesis"}),
                LATCHKEY_DOOMED_APPLICATION_ID=doomed_application,
                LATCHKEY_ORG_ID=org,
                LATCHKEY_ORG_APPLICATION_ID=org_application,
                LATCHKEY_AUDIT_LOG_ID=audit_log,
                LATCHKEY_DOOMED_TOKEN_ID=post(tokens, admin, {"name": "schemathesis, to delete"}),
            )
            command = [
                str(schemathesis),
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "run",
                f"{url}/openapi.json",
                "--report-dir",
                os.path.join(scratch, "report"),
            ] + sys.argv[1:]
            try:
                # In the scratch directory: schemathesis keeps its state (.schemathesis/) there.
                status = subprocess.run(command, env=env, cwd=scratch, timeout=RUN_LIMIT_S).returncode
            except subprocess.TimeoutExpired:
                print(f"schemathesis ran past {RUN_LIMIT_S} s", file=sys.stderr)
                status = 1
            if server.poll() is not None:
                print(f"the server died during the run ({server.returncode})", file=sys.stderr)
                status = 1
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if any("panicked" in line for line in log):
            print("the server panicked:\n" + "".join(log), file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
