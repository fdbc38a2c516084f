from geo.clients import client_address, client_key, parse_proxies

PROXIES = parse_proxies("127.0.0.1, 10.0.0.0/8")


def test_forwarded_for_ignored_from_untrusted_peer():
    assert client_address("198.51.100.7", "203.0.113.9", PROXIES) == "198.51.100.7"


def test_forwarded_for_believed_from_trusted_proxy():
    assert client_address("127.0.0.1", "203.0.113.9", PROXIES) == "203.0.113.9"


def test_spoofed_hops_before_the_real_client_are_ignored():
    # The client sent "X-Forwarded-For: 1.2.3.4"; our proxy appended the real address.
    assert client_address("10.0.0.2", "1.2.3.4, 203.0.113.9", PROXIES) == "203.0.113.9"


def test_key_is_stable_keyed_and_not_the_address():
    k = client_key("203.0.113.9", "s1")
    assert k == client_key("203.0.113.9", "s1")
    assert k != client_key("203.0.113.9", "s2")
    assert "203.0.113.9" not in k and len(k) == 32


def test_ipv6_clients_share_their_64():
    assert client_key("2001:db8::1", "s") == client_key("2001:db8::ffff", "s")
    assert client_key("2001:db8::1", "s") != client_key("2001:db8:0:1::1", "s")


def test_request_key_is_the_key_of_the_believed_client():
    from geo.clients import request_key

    behind_proxy = request_key("10.0.0.2", "1.2.3.4, 203.0.113.9", proxies=PROXIES, secret="s")
    assert behind_proxy == client_key("203.0.113.9", "s")
    # The configuration string works as well as parsed networks.
    assert request_key("10.0.0.2", "203.0.113.9", proxies="10.0.0.0/8", secret="s") == \
        behind_proxy
    assert request_key("198.51.100.7", "203.0.113.9", proxies=PROXIES, secret="s") == \
        client_key("198.51.100.7", "s")
