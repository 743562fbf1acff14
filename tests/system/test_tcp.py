"""UDP truncation and TCP per RFC 7766: many queries per connection, idle
connections closed, a cap on clients (PRODUCT.md, "Answers")."""

import socket
import time

import dns.flags
import dns.message

from helpers import (make_query, rcode_text, tcp_connect, tcp_frame,
                     tcp_query, tcp_recv_msg, udp_query, udp_raw)


def closed_within(sock, limit):
    """Seconds until the peer closed sock (EOF or reset), or None when it
    is still open after limit seconds.  Fails on data."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        data = sock.recv(1)
    except socket.timeout:
        return None
    except ConnectionResetError:
        data = b""
    assert data == b"", "unexpected data %r" % data
    return time.monotonic() - start


def read_answers(sock, count, limit):
    """{id: answer} of up to count answers read from sock within limit
    seconds; fails when the connection ends first."""
    answers = {}
    deadline = time.monotonic() + limit
    while len(answers) < count and time.monotonic() < deadline:
        data = tcp_recv_msg(sock, max(0.1, deadline - time.monotonic()))
        assert data is not None, "connection ended after %d answers" % (
            len(answers))
        resp = dns.message.from_wire(data)
        answers[resp.id] = resp
    return answers


def test_big_answer_truncated_over_udp_whole_over_tcp(cordond, upstream):
    q = make_query("big.test", "TXT")
    data = udp_raw(cordond.port, q.to_wire())
    assert data is not None
    assert len(data) <= 512
    udp = dns.message.from_wire(data)
    assert udp.flags & dns.flags.TC
    tcp = cordond.tcp("big.test", "TXT")
    assert not tcp.flags & dns.flags.TC
    assert len(tcp.to_wire()) > 2000
    want = tcp_query(upstream.port, make_query("big.test", "TXT"))
    assert sorted(rd.to_text() for rd in tcp.answer[0]) == sorted(
        rd.to_text() for rd in want.answer[0])


def test_pipelined_queries_on_one_connection(cordond):
    names = []
    for i in range(20):
        if i % 4 == 0:
            names.append("p%d.binance.com" % i)      # blocked
        elif i % 4 == 1:
            names.append("same.pipe.test")           # repeated: cached
        else:
            names.append("p%d.pipe.test" % i)
    queries = [make_query(n, "A", qid=5000 + i) for i, n in enumerate(names)]
    sock = tcp_connect(cordond.port)
    try:
        sock.sendall(b"".join(tcp_frame(q.to_wire()) for q in queries))
        answers = read_answers(sock, 20, 5)
    finally:
        sock.close()
    assert sorted(answers) == [q.id for q in queries]
    for q in queries:
        resp = answers[q.id]
        assert resp.question[0].name == q.question[0].name
        want = "NXDOMAIN" if "binance" in str(q.question[0].name) \
            else "NOERROR"
        assert rcode_text(resp) == want, q.question[0].name


def test_connection_serves_queries_one_after_another(cordond):
    sock = tcp_connect(cordond.port)
    try:
        for i in range(5):
            resp = tcp_query(cordond.port, make_query("seq%d.test" % i),
                             sock=sock)
            assert rcode_text(resp) == "NOERROR"
    finally:
        sock.close()


def test_idle_connection_closed_after_tcp_idle(start_cordond):
    d = start_cordond({"server": {"tcp_idle": "1s"}})
    sock = tcp_connect(d.port)
    try:
        took = closed_within(sock, 3.0)
        assert took is not None, "idle connection still open after 3s"
        assert took >= 0.5, "closed after %.2fs, before tcp_idle" % took
    finally:
        sock.close()
    # the idle time starts again after each answer
    sock = tcp_connect(d.port)
    try:
        time.sleep(0.6)
        resp = tcp_query(d.port, make_query("idle.test"), sock=sock)
        assert rcode_text(resp) == "NOERROR"
        took = closed_within(sock, 3.0)
        assert took is not None and took >= 0.5, took
    finally:
        sock.close()


def test_connection_stays_open_within_tcp_idle(start_cordond):
    d = start_cordond({"server": {"tcp_idle": "3s"}})
    sock = tcp_connect(d.port)
    try:
        for i in range(3):
            time.sleep(0.5)
            resp = tcp_query(d.port, make_query("alive%d.test" % i),
                             sock=sock)
            assert rcode_text(resp) == "NOERROR"
    finally:
        sock.close()


def test_tcp_max_clients_caps_connections(start_cordond):
    d = start_cordond({"server": {"tcp_max_clients": "3",
                                  "tcp_idle": "10s"}})
    held = [tcp_connect(d.port) for _ in range(3)]
    try:
        for i, sock in enumerate(held):
            resp = tcp_query(d.port, make_query("held%d.test" % i),
                             sock=sock)
            assert rcode_text(resp) == "NOERROR"
        extra = tcp_connect(d.port)
        try:
            try:
                extra.sendall(tcp_frame(make_query("extra.test").to_wire()))
            except (BrokenPipeError, ConnectionResetError):
                pass
            took = closed_within(extra, 1.0)
            assert took is not None, "4th connection served over the cap"
        finally:
            extra.close()
        # the connections under the cap still work
        resp = tcp_query(d.port, make_query("held-again.test"),
                         sock=held[0])
        assert rcode_text(resp) == "NOERROR"
        # a freed slot can be used again
        held.pop().close()
        deadline = time.monotonic() + 2
        while True:
            sock = tcp_connect(d.port)
            try:
                sock.sendall(tcp_frame(make_query("slot.test").to_wire()))
                data = tcp_recv_msg(sock, 0.5)
            finally:
                sock.close()
            if data is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert data is not None, "freed slot not reusable"
    finally:
        for sock in held:
            sock.close()
    # UDP is not affected by the TCP cap
    assert rcode_text(udp_query(d.port, make_query("udp.test"))) == "NOERROR"


def test_cached_big_answer_truncated_for_udp_client(cordond, upstream):
    tcp = cordond.tcp("cached.big.test", "TXT")
    assert len(tcp.to_wire()) > 2000
    q = make_query("cached.big.test", "TXT")
    data = udp_raw(cordond.port, q.to_wire())
    assert data is not None and len(data) <= 512
    assert dns.message.from_wire(data).flags & dns.flags.TC
    q = make_query("cached.big.test", "TXT", edns=0, payload=1000)
    data = udp_raw(cordond.port, q.to_wire())
    assert data is not None and len(data) <= 1000
    assert dns.message.from_wire(data).flags & dns.flags.TC
    again = cordond.tcp("cached.big.test", "TXT")
    assert len(again.answer[0]) == 12


def test_query_split_across_segments(cordond):
    frame = tcp_frame(make_query("split.test", "A", qid=777).to_wire())
    sock = tcp_connect(cordond.port)
    try:
        for i in range(len(frame)):
            sock.sendall(frame[i:i + 1])
            time.sleep(0.005)
        data = tcp_recv_msg(sock, 2.0)
    finally:
        sock.close()
    assert data is not None, "no answer to a query sent byte by byte"
    resp = dns.message.from_wire(data)
    assert resp.id == 777
    assert rcode_text(resp) == "NOERROR"


def test_answer_sent_after_client_half_close(cordond):
    # RFC 7766 6.2.4: a client may shut down its sending side after the
    # last query and still read the answers
    sock = tcp_connect(cordond.port)
    try:
        sock.sendall(tcp_frame(make_query("halfclose.slow.test", "A",
                                          qid=99).to_wire()))
        sock.shutdown(socket.SHUT_WR)
        data = tcp_recv_msg(sock, 3.0)
    finally:
        sock.close()
    assert data is not None, "no answer after the client's half-close"
    assert dns.message.from_wire(data).id == 99


def test_more_pipelined_queries_than_a_connection_forwards_at_once(cordond):
    """200 queries in one write, all to be forwarded: the connection reads
    up to its limit of forwarded queries (64), and as answers come back it
    must go on with the frames already in its input buffer, not wait for
    bytes the client will never send."""
    queries = [make_query("m%d.pipe.test" % i, "A", qid=6000 + i)
               for i in range(200)]
    sock = tcp_connect(cordond.port)
    try:
        sock.sendall(b"".join(tcp_frame(q.to_wire()) for q in queries))
        answers = read_answers(sock, 200, 8)
    finally:
        sock.close()
    assert len(answers) == 200, "%d of 200 answered" % len(answers)
    assert all(rcode_text(r) == "NOERROR" for r in answers.values())


def test_pipelined_queries_then_half_close_all_answered(cordond):
    """The same with the client's write side shut after its last query:
    frames read before the end of the stream are answered, every one,
    and only then is the connection closed."""
    queries = [make_query("h%d.pipe.test" % i, "A", qid=7000 + i)
               for i in range(150)]
    sock = tcp_connect(cordond.port)
    try:
        sock.sendall(b"".join(tcp_frame(q.to_wire()) for q in queries))
        sock.shutdown(socket.SHUT_WR)
        answers = read_answers(sock, 150, 8)
        assert len(answers) == 150, "%d of 150 answered" % len(answers)
        assert closed_within(sock, 3) is not None, "left open after all"
    finally:
        sock.close()
