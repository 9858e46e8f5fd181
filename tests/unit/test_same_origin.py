"""The browser-error sink's origin check: the forwarded host counts only from a trusted proxy."""

from __future__ import annotations

from isengard.server import same_origin


def test_a_forwarded_host_counts_only_from_a_trusted_proxy(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    forged = {"host": "studio:7860", "origin": "http://evil.example", "x-forwarded-host": "evil.example"}
    assert not same_origin(forged, "203.0.113.9")  # anyone can send both headers
    assert same_origin(forged, "127.0.0.1")  # a proxy on this machine (the share tunnel) is trusted
    proxied = {"host": "10.0.0.5:7860", "origin": "https://pod.example", "x-forwarded-host": "pod.example"}
    assert not same_origin(proxied, "100.64.0.7")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "100.64.0.7")
    assert same_origin(proxied, "100.64.0.7")  # a proxy the owner named
    assert same_origin({"host": "studio:7860", "origin": "http://studio:7860"}, "203.0.113.9")
    assert not same_origin({"host": "studio:7860", "origin": "null"}, "127.0.0.1")
