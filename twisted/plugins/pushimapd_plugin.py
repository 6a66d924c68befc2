"""twistd plugin: ``twistd -n pushimapd [options]``."""

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IServiceMaker, IPlugin)
class PushIMAPServiceMaker:
    tapname = "pushimapd"
    description = "IMAP4rev1 server over Maildir++ with HTTP push (PUSH-NOTIFY-HTTP=PUT)"

    @property
    def options(self):
        from pushimapd.service import Options

        return Options

    def makeService(self, options):
        from pushimapd.service import makeService

        return makeService(options)


serviceMaker = PushIMAPServiceMaker()
