"""TLS material from trustme: a CA, and a certificate for ``localhost`` and ``127.0.0.1``."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any


@dataclass
class TLSMaterial:
    """A trustme CA and a server certificate for ``localhost`` and ``127.0.0.1``."""

    ca: Any
    certfile: str
    keyfile: str
    ca_file: str

    def client_context(self, alpn: list[str] | None = None) -> ssl.SSLContext:
        """A client context that trusts only this CA (hostname check on)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(context)
        if alpn:
            context.set_alpn_protocols(alpn)
        return context

    def server_context(self, alpn: list[str] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        if alpn:
            context.set_alpn_protocols(alpn)
        return context


def make_tls_material(directory: str) -> TLSMaterial:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    certfile = os.path.join(directory, "server.pem")
    keyfile = os.path.join(directory, "server.key")
    ca_file = os.path.join(directory, "ca.pem")
    cert.cert_chain_pems[0].write_to_path(certfile)
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(certfile, append=True)
    cert.private_key_pem.write_to_path(keyfile)
    ca.cert_pem.write_to_path(ca_file)
    return TLSMaterial(ca=ca, certfile=certfile, keyfile=keyfile, ca_file=ca_file)
