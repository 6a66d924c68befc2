"""pushimapd: an IMAP4rev1 server over Maildir++ with HTTP push."""

__version__ = "0.1.0"
