"""The chain source's handling of a node that is not there or does not answer (real sockets, no node)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from config.embedded import free_port
from reserve.chain.errors import NodeUnavailable
from reserve.chain.rpc import RpcChainSource


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_refused_connection_is_retried_with_exponential_backoff_then_unavailable():
    # given: nothing listens on the port
    delays: list[float] = []
    url = f"http://user:secret-password@127.0.0.1:{free_port()}/"
    source = RpcChainSource(url, network="mainnet", retries=4, backoff_seconds=0.5, sleep=delays.append)

    # when / then
    with pytest.raises(NodeUnavailable, match="did not answer getblockhash after 5 attempts: ConnectionRefusedError"):
        source.block_count()  # the network check (getblockhash 0) comes first
    assert delays == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped():
    # given
    delays: list[float] = []
    url = f"http://127.0.0.1:{free_port()}/"
    source = RpcChainSource(url, retries=6, backoff_seconds=1, max_backoff_seconds=5, sleep=delays.append)

    # when
    with pytest.raises(NodeUnavailable):
        source.call("getblockcount")

    # then
    assert delays == [1, 2, 4, 5, 5, 5]


def test_node_that_does_not_answer_times_out(silent_server):
    # given
    source = RpcChainSource(f"http://127.0.0.1:{silent_server}/", timeout_seconds=0.2, retries=1, sleep=lambda _: None)

    # when / then
    with pytest.raises(NodeUnavailable, match="after 2 attempts: TimeoutError"):
        source.call("getblockcount")


@pytest.mark.parametrize(
    ("url", "reason"),
    [("", "BITCOIN_RPC_URL is empty"), ("https://127.0.0.1:8332/", "must be an http:// URL")],
)
def test_unusable_url_is_refused_up_front(url, reason):
    with pytest.raises(NodeUnavailable, match=reason):
        RpcChainSource(url)


def test_unknown_network_name_is_refused():
    with pytest.raises(ValueError, match="unknown bitcoin network 'bitcoin'"):
        RpcChainSource("http://127.0.0.1:8332/", network="bitcoin")
