"""Twisted glue: options, the thin connection Protocol, and the service tree.

The protocol only moves bytes between the socket and the sans-IO `Session`,
performs the session's `Action`s (thread for password checks, delays after
failures, STARTTLS, close) and owns the autologout timer.
"""

from __future__ import annotations

import ipaddress

from twisted.application import service, strports
from twisted.internet import defer, interfaces, protocol, reactor, task, threads
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python import usage

from . import __version__, commands  # noqa: F401  (registers every command)
from .auth import CredentialCache, UserDirectory
from .core.session import MAX_PIPELINED, ServerConfig, Session
from .commands.push import CAPABILITIES as PUSH_CAPABILITIES
from .commands.notify import CAPABILITIES as NOTIFY_CAPABILITIES
from .db import open_database
from .metadata_db import MetadataStore
from .push.devicetoken import CAPABILITY as DEVICETOKEN_CAPABILITY, setup_device_tokens
from .push.policy import TargetPolicy
from .push.service import PushService
from .quota import Quotas
from .urlauth import UrlAuthKeys
from .sample import ensure_sample_users, resolve_paths
from .storage.maildir.account import MailStore
from .storage.metadata import CAPABILITIES as METADATA_CAPABILITIES
from .wire.deflate import CompressionError, DeflateCodec

log = Logger()
AUTOLOGOUT_SECONDS = 31 * 60  # RFC 3501: at least 30 minutes
FAILED_LOGIN_DELAY = 1.0
DEFAULT_LISTEN = "tcp:1143:interface=127.0.0.1"
INFLATE_PIECE = 64 * 1024  # inflated bytes handed to the session at a time


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = "pushimapd: an IMAP4rev1 server over Maildir++ with HTTP push."
    optParameters = [
        ["maildir-root", None, None, "Directory holding one Maildir++ per user (default: a copy of the sample)"],
        ["db", None, None, "sqlite database (default: .pushimapd.sqlite inside the maildir root)"],
        ["tls-cert", None, None, "PEM certificate for STARTTLS on plain listeners"],
        ["tls-key", None, None, "PEM private key for STARTTLS on plain listeners"],
        ["max-append", None, 64 * 1024 * 1024, "Largest APPEND literal in bytes", int],
        ["sync-interval", None, 1.0, "Seconds between rescans of open mailboxes (fallback to inotify)", float],
        ["push-quiet-folders", None, "", "Comma-separated folders whose deliveries never push, besides the \\Junk one"],
        ["push-limit", None, 16, "Push registrations allowed per user", int],
        ["vapid-subject", None, None, "VAPID contact for web push: mailto:ADDR or https://URL "
         "(default: mailto:postmaster@<host name>)"],
        ["webpush-ttl", None, 86400, "Seconds a push service keeps an undelivered web push (TTL header)", int],
        ["webpush-urgency", None, "normal", "Urgency header of web pushes: very-low, low, normal or high"],
        ["auth-cache-ttl", None, 600.0, "Seconds a verified password is remembered (0: never)", float],
        ["trusted-networks", None, "127.0.0.0/8,::1/128",
         "Comma-separated networks whose peers may log in without TLS ('none' for no network)"],
        ["devicetoken-notifier", None, None,
         "URL that Delta Chat device tokens are POSTed to on new mail (enables XDELTAPUSH)"],
        ["metadata-comment", None, None, "Value of the server's METADATA entry /shared/comment"],
        ["metadata-admin", None, None, "Value of the server's METADATA entry /shared/admin (a mailto: or other URI)"],
        ["console", None, None, "Serve the test bed's web console on this endpoint (e.g. tcp:8143:interface=127.0.0.1)"],
        ["trace-dir", None, None, "Write one protocol trace file per session into this directory"],
    ]
    optFlags = [
        ["push-allow-http", None, "Allow plain http:// push targets (test beds)"],
        ["push-allow-private", None, "Allow loopback/private push targets (test beds)"],
        ["allow-insecure-auth", None, "Allow plaintext LOGIN on unencrypted non-loopback connections"],
        ["trace", None, "Log every protocol line (passwords redacted)"],
        ["debug", None, "Debug logging (push URLs in full: they carry secrets)"],
        ["reset-sample", None, "Recreate the working copy of the bundled sample before starting"],
    ]

    def __init__(self):
        super().__init__()
        self["listen"] = []
        self["special-use"] = {}

    def opt_special_use(self, value: str) -> None:
        """FOLDER=\\Attribute for every user, e.g. "Spam=\\Junk" (repeatable)"""
        folder, sep, attribute = value.partition("=")
        if not sep or not attribute.startswith("\\"):
            raise usage.UsageError("--special-use takes FOLDER=\\Attribute")
        self["special-use"][folder] = attribute

    def opt_listen(self, endpoint: str) -> None:
        """A Twisted endpoint to listen on (repeatable; default tcp:1143:interface=127.0.0.1)"""
        self["listen"].append(endpoint)

    def postOptions(self) -> None:
        from .push.webpush import URGENCIES, check_subject

        if bool(self["tls-cert"]) != bool(self["tls-key"]):
            raise usage.UsageError("--tls-cert and --tls-key go together")
        if self["vapid-subject"] is not None:
            try:
                check_subject(self["vapid-subject"])
            except ValueError as e:
                raise usage.UsageError(f"--vapid-subject: {e}") from None
        if self["webpush-ttl"] < 0:
            raise usage.UsageError("--webpush-ttl must not be negative")
        if self["webpush-urgency"] not in URGENCIES:
            raise usage.UsageError(f"--webpush-urgency must be one of {', '.join(URGENCIES)}")
        if self["console"]:
            from .testbed.console import check_endpoint

            check_endpoint(self["console"])
        if self["devicetoken-notifier"]:  # the same target policy as push URLs
            policy = TargetPolicy(allow_http=self["push-allow-http"], allow_private=self["push-allow-private"])
            try:
                policy.check_registration(self["devicetoken-notifier"].encode("utf-8"), b"")
            except ValueError as e:
                raise usage.UsageError(f"--devicetoken-notifier: {e}") from None


def parse_networks(text: str) -> tuple:
    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in text.split(",") if n.strip())
    except ValueError as e:
        raise usage.UsageError(f"--trusted-networks: {e}") from None


def _is_trusted(address, networks) -> bool:
    """Plaintext login is allowed without TLS only for peers in these networks."""
    host = getattr(address, "host", None)
    if host is None:
        return True  # UNIX sockets and the like are local
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def _peer(transport) -> str:
    address = transport.getPeer()
    return f"{getattr(address, 'host', address)}:{getattr(address, 'port', '')}"


_SECRET_COMMANDS = (b"LOGIN", b"AUTHENTICATE")


def _redact(data: bytes, mid_command: bool) -> bytes:
    """Before login: never a password. Literal data, SASL responses and the
    arguments of LOGIN/AUTHENTICATE are replaced by their size. Line ends are
    kept, so a trace shows the next command on a line of its own."""
    if mid_command:
        text = data.rstrip(b"\r\n")
        return b"[%d bytes redacted]" % len(text) + data[len(text):]
    lines = []
    for line in data.split(b"\n"):
        text = line.rstrip(b"\r")
        head = text.split(b" ", 2)
        if len(head) > 2 and head[1].upper() in _SECRET_COMMANDS or b"{" in text:
            text = b" ".join(head[:2]) + b" [redacted]"
        elif len(head) < 2 and text.strip():
            text = b"[%d bytes redacted]" % len(text)
        lines.append(text + line[len(line.rstrip(b"\r")):])
    return b"\n".join(lines)


class IMAPProtocol(protocol.Protocol, TimeoutMixin):
    def __init__(self, factory: "IMAPFactory"):
        self.factory = factory
        self.session: Session | None = None
        self.failures = 0
        self._held = None  # a long answer waiting for the client to read again
        self.deflate: DeflateCodec | None = None  # after COMPRESS DEFLATE (inside TLS, if any)
        self._inflating = False
        self.live = None  # testbed.hub.LiveSession: the console's entry and the trace file

    def connectionMade(self) -> None:
        secure = interfaces.ISSLTransport.providedBy(self.transport)
        local = _is_trusted(self.transport.getPeer(), self.factory.trusted_networks)
        self.session = Session(self.factory.config, secure=secure, local=local)
        self.session.on_output = self._flush
        self.session.on_note = self._note
        if self.factory.testbed is not None:
            self.live = self.factory.testbed.open(_peer(self.transport), self.session)
        self.setTimeout(AUTOLOGOUT_SECONDS)
        # back-pressure: when the transport's send buffer fills (the client is
        # not reading), it pauses us and the session takes no new commands;
        # reading goes on (TLS handshakes need it), bounded by the session
        self.transport.registerProducer(self, True)
        self.session.greeting()
        self._flush()

    def pauseProducing(self) -> None:
        if self.session is not None:
            self.session.pause()

    def resumeProducing(self) -> None:
        if self.session is not None and self.session.paused:
            self.session.resume()
            held, self._held = self._held, None
            if held is not None:
                reactor.callLater(0, self._go_on, held)
            self._flush()

    def stopProducing(self) -> None:
        pass

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        if self.deflate is None:
            self._receive(data)
        elif self.session is not None and not self.session.closed:
            self.deflate.feed(data)
            self._inflate()

    def _receive(self, data: bytes) -> None:
        """Plain protocol bytes (inflated already, when compressed) to the session."""
        if self.factory.trace or self.live is not None:
            session = self.session
            if session.user:
                shown = data
            else:
                shown = _redact(data, session.reader.in_command or session.sasl is not None)
            if self.factory.trace:
                log.info("C: {data!r}", data=shown)
            if self.live is not None:
                self.live.client(shown)
        self.session.receive_data(data)
        self._flush()

    def _flush(self) -> None:
        if self.session is None:
            return
        out = self.session.data_to_send()
        if out:
            if self.factory.trace:
                log.info("S: {data!r}", data=out[:2000])
            if self.live is not None:
                self.live.server(out)
            if self.deflate is not None:
                out = self.deflate.compress(out)
            self.transport.write(out)
        action = self.session.pending
        if action is not None and not getattr(action, "_started", False):
            action._started = True
            self._perform(action)
        if self.deflate is not None and self.deflate.has_input and not self._inflating:
            self._inflate()  # the session takes commands again: go on with what waited

    def _inflate(self) -> None:
        """Hand the session the client's compressed input one bounded piece at a
        time, and only while it takes commands: what waits stays compressed and
        counts against the same 4 MiB as plain input sent ahead."""
        self._inflating = True
        try:
            while self.session is not None and not self.session.closed:
                pending = self.session.pending
                if pending is not None and pending.kind == "close":
                    break
                if self.session.paused or pending is not None:
                    if self.deflate.backlog > MAX_PIPELINED:
                        self._close_with("Too much data sent ahead of the server's answers")
                    break
                try:
                    data = self.deflate.inflate(INFLATE_PIECE)
                except CompressionError as e:
                    reason = str(e)
                    self._close_with(reason[:1].upper() + reason[1:])
                    break
                if not data:
                    break
                self._receive(data)
        finally:
            self._inflating = False

    def _close_with(self, reason: str) -> None:
        """The compressed input cannot go on: one log line, BYE, close."""
        log.warn("closing the compressed connection from {peer}: {reason}", peer=_peer(self.transport),
                 reason=reason)
        self.session.untagged(b"BYE " + reason.encode("ascii", "replace"))
        self.session.closed = True
        self._flush()
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def _perform(self, action) -> None:
        if action.kind == "close":
            self.transport.unregisterProducer()  # a registered producer holds the close back
            self.transport.loseConnection()
        elif action.kind == "verify-password":
            self._verify(action)
        elif action.kind == "start-tls":
            self.transport.unregisterProducer()  # re-registered with the TLS layer
            self.transport.startTLS(self.factory.tls_context)
            self.transport.registerProducer(self, True)
            action.done(None)
            self._flush()
        elif action.kind == "delay":  # test bed: the command is answered late
            reactor.callLater(action.args["seconds"], self._delayed, action)
        elif action.kind == "yield":  # a long answer goes on after a reactor turn
            reactor.callLater(0, self._go_on, action)
        elif action.kind == "start-compression":
            # the tagged OK went out in clear just before; everything after is deflated
            self.deflate = DeflateCodec()
            self.deflate.feed(action.args["leftover"])
            action.done(None)
            self._flush()

    def _go_on(self, action) -> None:
        """Continue a long answer, unless the client stopped reading: then
        resumeProducing continues it (back-pressure holds for answers in
        pieces too)."""
        if self.session is None or self.session.closed:
            return
        if self.session.paused:
            self._held = action
            return
        action.done(None)
        self._flush()

    def _delayed(self, action) -> None:
        if self.session is not None and not self.session.closed:
            action.done(None)
            self._flush()

    def _note(self, text: str) -> None:
        """A test bed fault fired in this session: one log line, and the trace."""
        user = self.session.user if self.session is not None else None
        log.info("test bed: {text} (session of {user} from {peer})", text=text, user=user or "-",
                 peer=_peer(self.transport))
        if self.live is not None:
            self.live.note(text)

    @defer.inlineCallbacks
    def _verify(self, action):
        users: UserDirectory = self.factory.users
        name = action.args["user"]
        stored = users.stored_hash(name)
        password = action.args["password"]
        cache = self.factory.credential_cache
        if cache.hit(stored, password):
            ok = True
        else:
            ok = yield threads.deferToThread(users.check, stored, password)
            if ok:
                cache.remember(stored, password)
        log.info("login {outcome} for {user}", outcome="ok" if ok else "failed", user=name)
        if not ok:
            self.failures += 1
            yield task.deferLater(reactor, min(FAILED_LOGIN_DELAY * self.failures, 10.0), lambda: None)
        if self.session is not None and not self.session.closed:
            action.done(ok)
            self._flush()

    def timeoutConnection(self) -> None:
        if self.session is not None:
            self.session.untagged(b"BYE Autologout: idle for too long")
            self._flush()
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def connectionLost(self, reason=None) -> None:
        self.setTimeout(None)
        if self.session is not None:
            self.session.connection_lost()
            self.session = None
        if self.live is not None:
            self.live.close()
            self.live = None


class IMAPFactory(protocol.Factory):
    def __init__(self, config: ServerConfig, users: UserDirectory, tls_context=None, trace: bool = False,
                 trusted_networks=parse_networks("127.0.0.0/8,::1/128")):
        self.trusted_networks = trusted_networks
        self.credential_cache = CredentialCache()
        self.config = config
        self.users = users
        self.tls_context = tls_context
        self.trace = trace
        self.testbed = None  # testbed.hub.Hub with --console or --trace-dir

    def buildProtocol(self, addr):
        return IMAPProtocol(self)


class MailboxPoller(service.Service):
    """Rescans open mailboxes periodically: news reaches IDLE even without inotify."""

    def __init__(self, store: MailStore, interval: float):
        self.store = store
        self.loop = task.LoopingCall(self.poll)
        self.interval = interval

    def poll(self) -> None:
        for mailbox in self.store.loaded():
            if mailbox.listeners:
                try:
                    mailbox.sync()
                except OSError:
                    log.failure("rescan of {path} failed", path=mailbox.path)

    def startService(self) -> None:
        super().startService()
        self.loop.start(self.interval, now=False)

    def stopService(self):
        if self.loop.running:
            self.loop.stop()
        return super().stopService()


def tls_context(cert_path: str, key_path: str):
    from twisted.internet import ssl
    from twisted.internet._sslverify import TLSVersion

    with open(cert_path, "rb") as f:
        cert = f.read()
    with open(key_path, "rb") as f:
        key = f.read()
    pem = ssl.PrivateCertificate.loadPEM(cert + b"\n" + key)
    return ssl.CertificateOptions(privateKey=pem.privateKey.original, certificate=pem.original,
                                  raiseMinimumTo=TLSVersion.TLSv1_2)


def raise_file_limit() -> None:
    """Every connection is a descriptor: use the hard limit, not the soft one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, ValueError, OSError):
        pass


def makeService(options: Options) -> service.MultiService:
    raise_file_limit()
    root, db_path, is_sample = resolve_paths(options["maildir-root"], options["db"], options["reset-sample"])
    open_database(db_path)
    users = UserDirectory()
    if is_sample:
        ensure_sample_users(users)
    store = MailStore(root, special_use_config=options["special-use"])
    context = tls_context(options["tls-cert"], options["tls-key"]) if options["tls-cert"] else None
    policy = TargetPolicy(allow_http=options["push-allow-http"], allow_private=options["push-allow-private"])
    quiet = tuple(f.strip() for f in options["push-quiet-folders"].split(",") if f.strip())
    push = PushService(reactor, store, root, policy, quiet=quiet, limit=options["push-limit"],
                       vapid_subject=options["vapid-subject"], webpush_ttl=options["webpush-ttl"],
                       webpush_urgency=options["webpush-urgency"])
    push.registry.log_full_urls = bool(options["debug"])
    config = ServerConfig(
        store=store, users=users, max_append=options["max-append"],
        allow_insecure_auth=options["allow-insecure-auth"], tls_available=context is not None,
        push=push.registry, extra_capabilities=PUSH_CAPABILITIES, quotas=Quotas(),
        urlauth=UrlAuthKeys(),
    )
    # METADATA (RFC 5464), and Delta Chat's device tokens through it (XDELTAPUSH)
    config.metadata = MetadataStore(comment=options["metadata-comment"], admin=options["metadata-admin"])
    config.extra_capabilities = (*config.extra_capabilities, *METADATA_CAPABILITIES)
    config.extra_capabilities = (*config.extra_capabilities, *NOTIFY_CAPABILITIES)  # RFC 5465
    device_tokens = setup_device_tokens(push, options["devicetoken-notifier"])
    if device_tokens is not None:
        config.metadata.add_special(device_tokens)
        config.extra_capabilities = (*config.extra_capabilities, DEVICETOKEN_CAPABILITY)
    top = service.MultiService()
    push.setServiceParent(top)
    factory = IMAPFactory(config, users, context, trace=options["trace"],
                          trusted_networks=parse_networks(options["trusted-networks"]))
    factory.credential_cache.ttl = options["auth-cache-ttl"]
    for endpoint in options["listen"] or [DEFAULT_LISTEN]:
        strports.service(endpoint, factory).setServiceParent(top)
    MailboxPoller(store, options["sync-interval"]).setServiceParent(top)
    from .testbed.wiring import setup_testbed  # faults, traces, the console

    setup_testbed(options, top, factory, config, push, store, root)
    log.info("pushimapd {version} serving {root} (db {db}){sample}", version=__version__, root=root,
             db=db_path, sample=" [bundled sample; users demo/demo and alice/alice]" if is_sample else "")
    return top
