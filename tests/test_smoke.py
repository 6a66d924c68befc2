from imapclient import IMAPClient


def test_login_and_select(server):
    c = IMAPClient("127.0.0.1", port=server.port, ssl=False)
    c.login("demo", "demo")
    info = c.select_folder("INBOX")
    assert info[b"EXISTS"] == 0
    c.logout()
