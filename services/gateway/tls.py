"""TLS terminated in the gateway (security profiles 2 and 3): the server context and its CRL.

The handshake itself refuses a client certificate that is not from the configured CA or is listed
in the CRL; the CN / O checks happen in auth.py. The CRL file is re-read whenever it changes
(checked every `tls_crl_reload_seconds`): a revocation must take effect without a restart, and
once a CRL passes its nextUpdate OpenSSL refuses every client certificate of that CA, so a
long-running gateway must pick up the CA's fresh CRL. OpenSSL keeps every CRL it was given and
checks against the newest one (latest lastUpdate) of each issuer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl

import structlog

from services.gateway.settings import GatewaySettings

log = structlog.get_logger("gateway.tls")


class ServerTls:
    def __init__(self, settings: GatewaySettings):
        self.settings = settings
        self.context = self._context() if settings.tls_certfile else None
        self._crl_version: tuple[int, int, int] | None = None  # (mtime, size, inode) of the loaded file
        self._task: asyncio.Task | None = None
        self._checks_crl = bool(self.context is not None and settings.tls_client_ca and settings.tls_crl_file)
        if self._checks_crl:
            self.reload_crl()
        if settings.tls_client_ca and not settings.tls_crl_file:
            log.warning("tls_without_crl", detail="client certificates are not checked for revocation")
        if (settings.tls_client_ca or settings.client_cert_subject_header) and not settings.certificate_organization:
            log.warning("certificate_organization_unset", detail="a client certificate's O is not checked")

    def _context(self) -> ssl.SSLContext:
        s = self.settings
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(s.tls_certfile, s.tls_keyfile)
        if s.tls_client_ca:
            ctx.load_verify_locations(s.tls_client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL  # profile 2 stations use TLS without a client cert
            if s.tls_crl_file:
                ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        return ctx

    def reload_crl(self) -> bool:
        """Load the CRL file when it is new or changed; True when it was (re)loaded."""
        if not self._checks_crl:
            return False
        path = self.settings.tls_crl_file
        st = os.stat(path)
        version = (st.st_mtime_ns, st.st_size, st.st_ino)
        if version == self._crl_version:
            return False
        self.context.load_verify_locations(path)
        self._crl_version = version
        log.info("crl_loaded", path=path)
        return True

    def start(self) -> None:
        if self._checks_crl:
            self._task = asyncio.create_task(self._watch_crl(), name="crl-reload")

    async def _watch_crl(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tls_crl_reload_seconds)
            try:
                self.reload_crl()
            except (OSError, ssl.SSLError) as exc:  # a half-written or missing file: keep the old CRL
                log.error("crl_reload_failed", path=self.settings.tls_crl_file, error=repr(exc)[:200])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
