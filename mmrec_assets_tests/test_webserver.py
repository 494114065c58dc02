"""A real dagster-webserver on loopback serves every asset of the code location."""

import os
import time

import requests

from mmrec_assets_tests.conftest import background, executable, free_port
from mmrec_assets_tests.test_definitions import EXPECTED_ASSETS

ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName description } }"


def query(url: str, graphql: str, deadline: float) -> dict:
    """Post a GraphQL query, retrying while the server and the code location start."""
    last_error = None
    while time.monotonic() < deadline:
        try:
            response = requests.post(f"{url}/graphql", json={"query": graphql}, timeout=10)
            if response.ok:
                data = response.json().get("data") or {}
                if data.get("assetNodes"):
                    return data
        except requests.ConnectionError as error:
            last_error = error
        time.sleep(1)
    raise AssertionError(f"no answer from the webserver in time: {last_error}")


def test_webserver_lists_every_asset_with_group_and_description(tmp_path):
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MMREC_STORAGE_DIR": str(tmp_path / "storage"),
        "DAGSTER_DISABLE_TELEMETRY": "yes",
    }
    command = [executable("dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1"]
    log_path = tmp_path / "webserver.log"
    with background([*command, "-p", str(port)], env, log_path) as process:
        data = query(f"http://127.0.0.1:{port}", ASSETS_QUERY, time.monotonic() + 180)
        assert process.poll() is None, log_path.read_text()

    nodes = {"/".join(node["assetKey"]["path"]): node for node in data["assetNodes"]}
    for name, group in EXPECTED_ASSETS.items():
        assert name in nodes, name
        assert nodes[name]["groupName"] == group
        assert nodes[name]["description"]
